import { existsSync } from 'node:fs';
import { defineConfig } from 'vite';

// Bundles the Node benchmark entry points into self-contained .mjs files (WGSL inlined through import.meta.glob,
// every dependency bundled except Dawn's `webgpu` binding) for the GPU machine, which has no node_modules:
//   BENCH_ENTRY=kernels-cli npx vite build -c tools/vite.bench.config.ts   ->  dist-bench/kernels-cli.mjs
//   (tools/build-bench.sh builds both entries; each bundle is one file, no shared chunks)
// then `bash ../shared/gpu/pack.sh dist-bench/*.mjs` (see docs/benchmarks.md).
// BENCH_ENTRY=recall bundles src/cli/recall.ts (entries are looked up in src/bench, then src/cli).
const entry = process.env.BENCH_ENTRY ?? 'kernels-cli';
const input = existsSync(`src/bench/${entry}.ts`) ? `src/bench/${entry}.ts` : `src/cli/${entry}.ts`;

export default defineConfig({
  publicDir: false,
  build: {
    ssr: true,
    outDir: 'dist-bench',
    emptyOutDir: false,
    target: 'node20',
    minify: false,
    rollupOptions: {
      input: { [entry]: input },
      external: ['webgpu'],
      output: { format: 'es', entryFileNames: '[name].mjs', codeSplitting: false },
    },
  },
  ssr: { noExternal: true, external: ['webgpu'] },
});
