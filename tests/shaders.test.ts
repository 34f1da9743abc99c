// The shader loader: #include resolution, include placeholders, directive hoisting, consts; the same module text from
// Vite's inlined copies (what the page and the bench bundles use) and from the files on disk (plain Node).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeShader, loadShader, shaderNames, wgslConsts } from '../src/gpu/shaders';

const files = (texts: Record<string, string>) => (name: string) => {
  const t = texts[name];
  if (t === undefined) throw new Error(`shader ${name} not found`);
  return t;
};

describe('composeShader', () => {
  it('resolves nested includes once each, in place, with the including text around them', () => {
    const read = files({
      'main.wgsl': '// main\n#include "a.wgsl"\nfn main() {}\n#include "b.wgsl"\n',
      'a.wgsl': '#include "lib/c.wgsl"\nfn a() {}',
      'b.wgsl': '#include "lib/c.wgsl"  // again: dropped\n#include "a.wgsl"\nfn b() {}',
      'lib/c.wgsl': 'fn c() {}',
    });
    const code = composeShader('main', {}, read);
    const fns = [...code.matchAll(/fn (\w+)\(/g)].map((m) => m[1]);
    expect(fns).toEqual(['c', 'a', 'main', 'b']);
    expect(code).not.toMatch(/#include/);
  });

  it('fills {NAME} placeholders from include, and refuses missing or unused values', () => {
    const read = files({
      'k.wgsl': '#include "io_{IO}.wgsl"\nfn main() {}',
      'io_vec4.wgsl': 'fn ld() -> u32 { return 4u; }',
      'io_scalar.wgsl': 'fn ld() -> u32 { return 1u; }',
    });
    expect(composeShader('k', { include: { IO: 'vec4' } }, read)).toContain('return 4u');
    expect(composeShader('k', { include: { IO: 'scalar' } }, read)).toContain('return 1u');
    expect(() => composeShader('k', {}, read)).toThrow(/#include "io_\{IO\}.wgsl" needs include.IO/);
    expect(() => composeShader('k', { include: { IO: 'vec4', RED: 'x' } }, read)).toThrow(/include values RED are not used/);
    expect(() => composeShader('k', { include: { IO: 'f16' } }, read)).toThrow(/k.wgsl: #include "io_f16.wgsl": shader io_f16.wgsl not found/);
  });

  it('refuses include cycles and unknown preprocessor lines', () => {
    const cyc = files({ 'x.wgsl': '#include "y.wgsl"', 'y.wgsl': '#include "x.wgsl"' });
    expect(() => composeShader('x', {}, cyc)).toThrow(/#include cycle x.wgsl -> y.wgsl -> x.wgsl/);
    expect(() => composeShader('z', {}, files({ 'z.wgsl': '#define X 1' }))).toThrow(/unknown preprocessor line '#define X 1'/);
  });

  it('moves global directives to the top once, then the consts, then the source', () => {
    const read = files({
      'k.wgsl': 'struct P { a: u32 };\n#include "sg.wgsl"\nenable subgroups;\nfn main() {}',
      'sg.wgsl': '// a snippet\nenable subgroups;\ndiagnostic(off, subgroup_uniformity);\nfn red() {}',
    });
    const code = composeShader('k', { consts: { NS: 16, PF: false } }, read);
    const lines = code.split('\n');
    expect(lines.slice(0, 4)).toEqual(['enable subgroups;', 'diagnostic(off, subgroup_uniformity);', 'const NS: u32 = 16u;', 'const PF: bool = false;']);
    expect(code.match(/enable subgroups;/g)).toHaveLength(1);
    expect(code.indexOf('struct P')).toBeLessThan(code.indexOf('fn red'));
  });

  it('writes consts as u32 or bool and refuses anything else', () => {
    expect(wgslConsts({ A: 0, B: 4294967295, C: true })).toBe('const A: u32 = 0u;\nconst B: u32 = 4294967295u;\nconst C: bool = true;\n');
    expect(() => wgslConsts({ A: -1 })).toThrow(/only booleans and integers/);
    expect(() => wgslConsts({ A: 1.5 })).toThrow(/only booleans and integers/);
    expect(() => wgslConsts({ 'A B': 1 })).toThrow(/not a WGSL identifier/);
  });
});

// Every .wgsl under shaders/, as a path relative to it.
function diskShaders(dir = 'shaders'): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return diskShaders(p);
    return f.endsWith('.wgsl') ? [relative('shaders', p)] : [];
  });
}

// The include values a shader can take: for each {NAME} in its (transitive) include lines, the files that match.
function variants(name: string, all: string[]): Record<string, string>[] {
  const keys = new Map<string, Set<string>>();
  const visit = (file: string, seen: Set<string>) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(join('shaders', file), 'utf8').matchAll(/^[ \t]*#include[ \t]+"([^"]+)"/gm)) {
      const path = m[1];
      const ph = /\{(\w+)\}/.exec(path);
      if (!ph) {
        visit(path, seen);
        continue;
      }
      const re = new RegExp('^' + path.replace(/[.]/g, '\\.').replace(`{${ph[1]}}`, '(\\w+)') + '$');
      const values = all.map((f) => re.exec(f)?.[1]).filter((v): v is string => v !== undefined);
      if (!keys.has(ph[1])) keys.set(ph[1], new Set());
      for (const v of values) {
        keys.get(ph[1])!.add(v);
        visit(path.replace(`{${ph[1]}}`, v), seen);
      }
    }
  };
  visit(name, new Set());
  let out: Record<string, string>[] = [{}];
  for (const [k, vs] of keys) out = out.flatMap((o) => [...vs].map((v) => ({ ...o, [k]: v })));
  return out;
}

describe('shader files', () => {
  const all = diskShaders();

  it('Vite inlines every file under shaders/, subfolders included, with the text on disk', () => {
    expect(shaderNames().sort()).toEqual([...all].sort());
    for (const f of all) expect(loadShader(f)).toBe(readFileSync(join('shaders', f), 'utf8'));
  });

  it('every kernel composes (each include variant) the same from the inlined copies and from disk', () => {
    const disk = (f: string) => readFileSync(join('shaders', f.endsWith('.wgsl') ? f : `${f}.wgsl`), 'utf8');
    let composed = 0;
    for (const f of all) {
      for (const include of variants(f, all)) {
        const code = composeShader(f, { include });
        expect(code).toBe(composeShader(f, { include }, disk));
        expect(code).not.toMatch(/^[ \t]*#/m);
        composed++;
      }
    }
    expect(composed).toBeGreaterThan(all.length);
  });

  it('plain Node (no Vite) reads and composes them from disk', () => {
    const script = "import { composeShader } from './src/gpu/shaders.ts';" +
      "process.stdout.write(composeShader('flash_attention_tiled', { include: { IO: 'scalar', RED: 'subgroup' }, consts: { HD4: 3 } }));";
    const out = execFileSync('node_modules/.bin/tsx', ['--eval', script], { encoding: 'utf8' });
    expect(out).toBe(composeShader('flash_attention_tiled', { include: { IO: 'scalar', RED: 'subgroup' }, consts: { HD4: 3 } }));
    expect(out.startsWith('enable subgroups;\nconst HD4: u32 = 3u;\n')).toBe(true);
  });
});
