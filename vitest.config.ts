import { defineConfig } from 'vitest/config';

// Kernel tests run on real WebGPU through Dawn in Node (SwiftShader on machines without a GPU, see
// tools/webgpu-env.sh). Files run three at a time (on the 2-core CI machine three keep both cores busy: 409 s vs
// 473 s with two, as a file often waits on a readback or the CPU oracle between compiles); each worker runs its files in one module
// graph (isolate off), so they share one Dawn device and its compiled pipelines (tests/gpu.ts): SwiftShader spends
// most of the suite compiling, and the model tests compile the same pipelines.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 3,
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
