import { defineConfig } from 'vitest/config';

// Kernel tests run on real WebGPU through Dawn in Node (SwiftShader on machines without a GPU, see
// tools/webgpu-env.sh). One device per test file; files run two at a time on this 2-core machine.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
