import { existsSync } from 'node:fs';
import { defineConfig } from 'vite';

// Bundles the Node benchmark entry points into self-contained .mjs files (WGSL inlined through import.meta.glob,
// every dependency bundled except Dawn's `webgpu` binding) for the GPU machine, which has no node_modules:
//   npx vite build -c tools/vite.bench.config.ts   ->  dist-bench/{kernels-cli,bench-cli}.mjs
// then `bash ../shared/gpu/pack.sh dist-bench/*.mjs` (see docs/benchmarks.md).
export default defineConfig({
  publicDir: false,
  build: {
    ssr: true,
    outDir: 'dist-bench',
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    rollupOptions: {
      // bench-cli joins the bundle once it exists.
      input: {
        'kernels-cli': 'src/bench/kernels-cli.ts',
        ...(existsSync('src/bench/bench-cli.ts') ? { 'bench-cli': 'src/bench/bench-cli.ts' } : {}),
      },
      external: ['webgpu'],
      output: { format: 'es', entryFileNames: '[name].mjs', inlineDynamicImports: false },
    },
  },
  ssr: { noExternal: true, external: ['webgpu'] },
});
