// Uniforms declared once, in the WGSL struct: the layout read from it and the packing by field name.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { composeShader } from '../src/gpu/shaders';
import { UniformLayout } from '../src/gpu/uniforms';

describe('UniformLayout', () => {
  it('reads the struct bound as var<uniform>, with WGSL uniform alignment', () => {
    const l = UniformLayout.fromWgsl(`
      struct Other { x: f32 };
      struct P {
        a: u32,            // comment, with a comma
        b: f32, /* block, comment */ c: vec2<f32>,
        d: vec4u,
        e: i32,
        _pad: u32,
      };
      @group(0) @binding(0) var<uniform> params: P;`, 'k')!;
    expect(l.struct).toBe('P');
    expect(l.fields.map((f) => [f.name, f.scalar, f.count, f.offset])).toEqual([
      ['a', 'u32', 1, 0], ['b', 'f32', 1, 4], ['c', 'f32', 2, 8], ['d', 'u32', 4, 16], ['e', 'i32', 1, 32], ['_pad', 'u32', 1, 36],
    ]);
    expect(l.size).toBe(48);
    const buf = l.pack({ a: 7, b: 0.5, c: [1, 2], d: [1, 2, 3, 4294967295], e: -3 });
    expect(buf.byteLength).toBe(48);
    const u = new Uint32Array(buf), f = new Float32Array(buf), i = new Int32Array(buf);
    expect([u[0], f[1], f[2], f[3], u[4], u[5], u[6], u[7], i[8], u[9]]).toEqual([7, 0.5, 1, 2, 1, 2, 3, 4294967295, -3, 0]);
  });

  it('names what is wrong: missing, unknown, wrong kind of value', () => {
    const l = UniformLayout.fromWgsl('struct Params { L: u32, scale: f32, v: vec2f };\nvar<uniform> params: Params;', 'flash:main')!;
    expect(() => l.pack({ L: 1, scale: 1 })).toThrow("flash:main: struct Params field 'v' not given");
    expect(() => l.pack({ L: 1, scale: 1, v: [0, 0], Lk: 2 })).toThrow(/no field 'Lk' in struct Params \(fields: L, scale, v\)/);
    expect(() => l.pack({ L: 1.5, scale: 1, v: [0, 0] })).toThrow(/field 'L' \(u32\) = 1.5 is not an integer/);
    expect(() => l.pack({ L: -1, scale: 1, v: [0, 0] })).toThrow(/field 'L' \(u32\) = -1 out of range/);
    expect(() => l.pack({ L: 1, scale: 1, v: [0] })).toThrow(/field 'v' takes 2 value\(s\), got 1/);
    expect(() => UniformLayout.fromWgsl('struct Params { m: mat2x2<f32> };\nvar<uniform> params: Params;', 'k')).toThrow(/member 'm: mat2x2<f32>'/);
    expect(UniformLayout.fromWgsl('@group(0) @binding(0) var<storage, read> x: array<f32>;')).toBeNull();
  });

  it('reads every kernel in shaders/ that has uniforms (scalars only today, 16 fields at most)', () => {
    let n = 0;
    for (const f of readdirSync('shaders').filter((x) => x.endsWith('.wgsl'))) {
      const l = UniformLayout.fromWgsl(composeAny(f), f);
      if (!l) continue;
      n++;
      expect(l.fields.length, f).toBeGreaterThan(0);
      expect(l.size, f).toBeLessThanOrEqual(64);
      // Packing every non-padding field by name round-trips.
      const values = Object.fromEntries(l.fields.filter((x) => !x.name.startsWith('_')).map((x, i) => [x.name, i + 1]));
      const dv = new DataView(l.pack(values));
      for (const x of l.fields) {
        const got = x.scalar === 'f32' ? dv.getFloat32(x.offset, true) : dv.getUint32(x.offset, true);
        expect(got, `${f} ${x.name}`).toBe(values[x.name] ?? 0);
      }
    }
    expect(n).toBeGreaterThan(25);
  });
});

// The first include choice a shader composes with (the variant does not change its uniform struct).
function composeAny(f: string): string {
  const choices: Record<string, string>[] = [{}, { IO: 'vec4' }, { RED: 'shared' }, { IO: 'vec4', RED: 'shared' }];
  for (const include of choices) {
    try {
      return composeShader(f, { include });
    } catch {
      // this shader takes other include values
    }
  }
  throw new Error(`${f} does not compose`);
}
