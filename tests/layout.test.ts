// The folders of src/ depend on each other in one direction: no folder imports one that (directly or not) imports
// it, kernels never import their CPU oracles (src/reference), and production code never imports the kernel lab.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.tsx?$/.test(f) ? [p] : [];
  });
}

/** Relative imports of every file under src/, as [importing file, imported path] (paths relative to the repo). */
function imports(): [string, string][] {
  const out: [string, string][] = [];
  for (const file of sources('src')) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.[^'"]+)['"]/g)) out.push([file, normalize(join(dirname(file), m[1]))]);
  }
  return out;
}

/** The folder right under src/ a path belongs to ('' for files directly in src/, '<x>' outside src/). */
function folder(path: string): string {
  const rel = relative('src', path).split(sep);
  if (rel[0] === '..') return `<${rel[1]}>`;
  return rel.length > 1 ? rel[0] : '';
}

describe('src/ layout', () => {
  const edges = imports();

  it('kernels/ does not import reference/ (shared definitions live in math/)', () => {
    const back = edges.filter(([a, b]) => folder(a) === 'kernels' && folder(b) === 'reference');
    expect(back).toEqual([]);
  });

  it('nothing outside src/bench imports the kernel lab (src/bench/lab)', () => {
    const lab = edges.filter(([a, b]) => b.startsWith(join('src', 'bench', 'lab')) && !a.startsWith(join('src', 'bench')));
    expect(lab).toEqual([]);
  });

  it('the folder graph has no cycle', () => {
    const graph = new Map<string, Set<string>>();
    for (const [a, b] of edges) {
      const fa = folder(a), fb = folder(b);
      if (fa === fb || fb.startsWith('<')) continue;
      if (!graph.has(fa)) graph.set(fa, new Set());
      graph.get(fa)!.add(fb);
    }
    expect(graph.get('kernels')?.size ?? 0).toBeGreaterThan(0);
    // Depth-first search; a back edge is a cycle, reported with its path.
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (n: string, path: string[]) => {
      state.set(n, 'open');
      for (const m of graph.get(n) ?? []) {
        if (state.get(m) === 'open') cycles.push([...path.slice(path.indexOf(m)), n, m].join(' -> '));
        else if (!state.has(m)) visit(m, [...path, n]);
      }
      state.set(n, 'done');
    };
    for (const n of graph.keys()) if (!state.has(n)) visit(n, []);
    expect(cycles).toEqual([]);
  });
});
