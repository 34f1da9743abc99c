/**
 * A kernel's uniforms are declared once, as the WGSL `struct` of its `var<uniform>` binding (`params: Params` by
 * convention). UniformLayout reads that struct from the module text and packs values given by field name, so the
 * shader's layout and the wrapper's packing cannot drift apart: a missing or unknown name is an error naming the
 * kernel and the struct's fields. Fields whose names start with `_` are padding and default to 0.
 *
 * Supported member types: u32, i32, f32 and vec2/vec3/vec4 of them (`vec4<f32>` or `vec4f`), laid out with WGSL's
 * uniform alignment rules (scalar 4, vec2 8, vec3 / vec4 16 bytes). Vector fields take an array of numbers.
 */

export type Scalar = 'u32' | 'i32' | 'f32';

export interface UniformField {
  name: string;
  scalar: Scalar;
  /** Components: 1 for a scalar, 2..4 for a vector. */
  count: number;
  /** Byte offset in the struct. */
  offset: number;
}

/** Values of a struct's fields by name (vectors as arrays). */
export type UniformValues = Readonly<Record<string, number | boolean | readonly number[]>>;

const SHORT: Record<string, Scalar> = { f: 'f32', u: 'u32', i: 'i32' };

function parseType(t: string): { scalar: Scalar; count: number } | null {
  if (t === 'u32' || t === 'i32' || t === 'f32') return { scalar: t, count: 1 };
  let m = /^vec([234])<(u32|i32|f32)>$/.exec(t);
  if (m) return { scalar: m[2] as Scalar, count: Number(m[1]) };
  m = /^vec([234])([fui])$/.exec(t);
  if (m) return { scalar: SHORT[m[2]], count: Number(m[1]) };
  return null;
}

export class UniformLayout {
  readonly fields: readonly UniformField[];
  /** Struct size in bytes, a multiple of 16. */
  readonly size: number;
  private readonly byName: Map<string, UniformField>;

  constructor(readonly struct: string, fields: UniformField[], readonly label = struct) {
    this.fields = fields;
    this.byName = new Map(fields.map((f) => [f.name, f]));
    const end = fields.reduce((m, f) => Math.max(m, f.offset + 4 * f.count), 0);
    this.size = Math.max(16, Math.ceil(end / 16) * 16);
  }

  /**
   * The layout of the struct bound as `var<uniform>` in `code` (WGSL), or null when the module has no uniform
   * binding. Throws when the struct uses a member type this packer does not know.
   */
  static fromWgsl(code: string, label = 'shader'): UniformLayout | null {
    const text = code.replace(/\/\/[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
    const decls = [...text.matchAll(/var<uniform>\s+([A-Za-z_]\w*)\s*:\s*([A-Za-z_]\w*)\s*;/g)];
    if (decls.length === 0) return null;
    if (decls.length > 1) throw new Error(`${label}: ${decls.length} uniform bindings; the packer handles one`);
    const structName = decls[0][2];
    const m = new RegExp(`struct\\s+${structName}\\s*\\{([^}]*)\\}`).exec(text);
    if (!m) throw new Error(`${label}: struct ${structName} of the uniform binding not found`);
    const fields: UniformField[] = [];
    let offset = 0;
    for (const raw of m[1].split(',')) {
      const member = raw.trim();
      if (!member) continue;
      const fm = /^([A-Za-z_]\w*)\s*:\s*([\w<>]+)$/.exec(member);
      const type = fm && parseType(fm[2]);
      if (!fm || !type) throw new Error(`${label}: struct ${structName} member '${member}': only u32 / i32 / f32 and their vec2..4 (no attributes)`);
      const align = type.count === 1 ? 4 : type.count === 2 ? 8 : 16;
      offset = Math.ceil(offset / align) * align;
      fields.push({ name: fm[1], scalar: type.scalar, count: type.count, offset });
      offset += 4 * type.count;
    }
    return new UniformLayout(structName, fields, label);
  }

  /** Field names in declaration order. */
  get names(): string[] {
    return this.fields.map((f) => f.name);
  }

  /** Packs `values` (every field but `_` padding, by name) into a new buffer of `size` bytes. */
  pack(values: UniformValues): ArrayBuffer {
    const buf = new ArrayBuffer(this.size);
    const dv = new DataView(buf);
    for (const key of Object.keys(values)) {
      if (!this.byName.has(key)) throw new Error(`${this.label}: no field '${key}' in struct ${this.struct} (fields: ${this.names.join(', ')})`);
    }
    for (const f of this.fields) {
      const v = values[f.name];
      if (v === undefined) {
        if (f.name.startsWith('_')) continue;
        throw new Error(`${this.label}: struct ${this.struct} field '${f.name}' not given`);
      }
      const xs = typeof v === 'object' ? v : [typeof v === 'boolean' ? +v : v];
      if (xs.length !== f.count) throw new Error(`${this.label}: field '${f.name}' takes ${f.count} value(s), got ${xs.length}`);
      for (let i = 0; i < f.count; i++) {
        const x = xs[i];
        if (typeof x !== 'number' || Number.isNaN(x) && f.scalar !== 'f32') throw new Error(`${this.label}: field '${f.name}' = ${String(x)} is not a number`);
        const at = f.offset + 4 * i;
        if (f.scalar === 'f32') dv.setFloat32(at, x, true);
        else {
          if (!Number.isInteger(x)) throw new Error(`${this.label}: field '${f.name}' (${f.scalar}) = ${x} is not an integer`);
          if (f.scalar === 'u32') {
            if (x < 0 || x > 0xffffffff) throw new Error(`${this.label}: field '${f.name}' (u32) = ${x} out of range`);
            dv.setUint32(at, x, true);
          } else {
            if (x < -0x80000000 || x > 0x7fffffff) throw new Error(`${this.label}: field '${f.name}' (i32) = ${x} out of range`);
            dv.setInt32(at, x, true);
          }
        }
      }
    }
    return buf;
  }
}
