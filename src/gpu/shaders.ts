/**
 * WGSL sources from shaders/*.wgsl. Under Vite and Vitest, import.meta.glob inlines them as strings (`?raw`), so the
 * built page and the bench bundles carry them; in plain Node (tsx) they are read from disk next to this repo.
 */
let inlined: Record<string, string> = {};
try {
  inlined = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
} catch {
  // Not under Vite: import.meta.glob does not exist. loadShader() reads the file instead.
}

const byName = new Map<string, string>();
for (const [path, code] of Object.entries(inlined)) byName.set(path.slice(path.lastIndexOf('/') + 1), code);

/** `name` is a file name in shaders/, e.g. "selective_scan_fused.wgsl" (the extension may be left off). */
export function loadShader(name: string): string {
  const file = name.endsWith('.wgsl') ? name : `${name}.wgsl`;
  const hit = byName.get(file);
  if (hit !== undefined) return hit;
  const proc = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown } }).process;
  const fs = proc?.getBuiltinModule?.('node:fs') as typeof import('node:fs') | undefined;
  if (fs) {
    const code = fs.readFileSync(new URL(`../../shaders/${file}`, import.meta.url), 'utf8');
    byName.set(file, code);
    return code;
  }
  throw new Error(`shader ${file} not found (known: ${[...byName.keys()].join(', ')})`);
}

export function shaderNames(): string[] {
  return [...byName.keys()];
}
