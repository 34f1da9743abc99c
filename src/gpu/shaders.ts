/**
 * WGSL sources from shaders/ (subfolders too, e.g. "lab/x.wgsl") and the one way a kernel's module text is made from
 * them. Under Vite and Vitest, import.meta.glob inlines the files as strings (`?raw`), so the built page and the bench
 * bundles carry them; in plain Node (tsx) they are read from disk next to this repo.
 *
 * composeShader(name, { include, consts }) resolves, in this order:
 *   - `#include "file.wgsl"` lines (path relative to shaders/), recursively; each file enters a module once (a second
 *     include of it is dropped), a cycle is an error. `{NAME}` in the path is replaced by `include.NAME`: the wrapper
 *     picks a variant of a snippet (`#include "flash_attention_io_{IO}.wgsl"` with include { IO: 'vec4' }).
 *   - global directives (`enable ...;`, `requires ...;`, `diagnostic(...);`) anywhere in the pieces move to the top
 *     (WGSL wants them before any declaration), once each.
 *   - `consts` become module-scope declarations before the source: `const NAME: u32 = 4u;` for a non-negative
 *     integer, `const NAME: bool = true;` for a boolean (sizes the wrapper computes: tiles, state size, ...).
 */
let inlined: Record<string, string> = {};
try {
  inlined = import.meta.glob('../../shaders/**/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
} catch {
  // Not under Vite: import.meta.glob does not exist. loadShader() reads the file instead.
}

const byName = new Map<string, string>();
for (const [path, code] of Object.entries(inlined)) byName.set(path.slice(path.indexOf('/shaders/') + '/shaders/'.length), code);

function fileName(name: string): string {
  return name.endsWith('.wgsl') ? name : `${name}.wgsl`;
}

/** The text of shaders/<name> as it is on disk, e.g. "selective_scan_chunk_out.wgsl" (the extension may be left off). */
export function loadShader(name: string): string {
  const file = fileName(name);
  const hit = byName.get(file);
  if (hit !== undefined) return hit;
  const proc = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown } }).process;
  const fs = proc?.getBuiltinModule?.('node:fs') as typeof import('node:fs') | undefined;
  if (fs) {
    const url = new URL(`../../shaders/${file}`, import.meta.url);
    if (!fs.existsSync(url)) throw new Error(`shader ${file} not found in shaders/`);
    const code = fs.readFileSync(url, 'utf8');
    byName.set(file, code);
    return code;
  }
  throw new Error(`shader ${file} not found (known: ${[...byName.keys()].join(', ')})`);
}

/** Shader files known without reading the disk (those Vite inlined). */
export function shaderNames(): string[] {
  return [...byName.keys()];
}

export interface ShaderOptions {
  /** Values of the `{NAME}` placeholders in #include paths. */
  include?: Readonly<Record<string, string>>;
  /** Module-scope constants declared before the source: non-negative integers as u32, booleans as bool. */
  consts?: Readonly<Record<string, number | boolean>>;
}

const INCLUDE = /^[ \t]*#include[ \t]+"([^"]+)"[ \t]*(?:\/\/.*)?$/;
const DIRECTIVE = /^[ \t]*(?:enable|requires|diagnostic)\b[^;{}]*;[ \t]*(?:\/\/.*)?$/;
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** `const` declarations for `consts` (see ShaderOptions). */
export function wgslConsts(consts: Readonly<Record<string, number | boolean>>): string {
  let out = '';
  for (const [name, v] of Object.entries(consts)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`shader const '${name}' is not a WGSL identifier`);
    if (typeof v === 'boolean') out += `const ${name}: bool = ${v};\n`;
    else if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) out += `const ${name}: u32 = ${v}u;\n`;
    else throw new Error(`shader const ${name} = ${v}: only booleans and integers in [0, 2^32) (as u32)`);
  }
  return out;
}

/**
 * The module text of shaders/<name> with its includes resolved, directives first, then `consts`, then the source.
 * `read` (default loadShader) gives a file's text; tests pass another reader.
 */
export function composeShader(name: string, opts: ShaderOptions = {}, read: (file: string) => string = loadShader): string {
  const include = opts.include ?? {};
  const used = new Set<string>();
  const seen = new Set<string>();
  const directives: string[] = [];
  const expand = (file: string, stack: string[]): string | null => {
    if (stack.includes(file)) throw new Error(`shader ${fileName(name)}: #include cycle ${[...stack, file].join(' -> ')}`);
    if (seen.has(file)) return null;
    seen.add(file);
    const lines = read(file).split('\n');
    const out: string[] = [];
    for (const line of lines) {
      const inc = INCLUDE.exec(line);
      if (inc) {
        const target = fileName(inc[1].replace(PLACEHOLDER, (_, key: string) => {
          const v = include[key];
          if (v === undefined) throw new Error(`shader ${file}: #include "${inc[1]}" needs include.${key} (given: ${Object.keys(include).join(', ') || 'none'})`);
          used.add(key);
          return v;
        }));
        let text: string | null;
        try {
          text = expand(target, [...stack, file]);
        } catch (e) {
          if (e instanceof Error && /not found/.test(e.message)) throw new Error(`shader ${file}: #include "${target}": ${e.message}`);
          throw e;
        }
        if (text !== null) out.push(`// ---- ${target}`, text, `// ---- end of ${target}`);
      } else if (DIRECTIVE.test(line)) {
        const d = line.replace(/\/\/.*$/, '').trim();
        if (!directives.includes(d)) directives.push(d);
      } else {
        if (/^[ \t]*#/.test(line)) throw new Error(`shader ${file}: unknown preprocessor line '${line.trim()}' (only #include "file.wgsl")`);
        out.push(line);
      }
    }
    return out.join('\n');
  };
  const body = expand(fileName(name), []) ?? '';
  const unused = Object.keys(include).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`shader ${fileName(name)}: include values ${unused.join(', ')} are not used by any #include`);
  return (directives.length ? directives.join('\n') + '\n' : '') + wgslConsts(opts.consts ?? {}) + body;
}
