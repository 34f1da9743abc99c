import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest (seconds in a full run on the 2-core machine, three at a time), started first so that no
 * long file starts late and runs alone at the end. Vitest orders by its cache of earlier runs, which a clean clone
 * (CI) does not have: there it would take the folders' order, with the attention tests in the middle.
 */
const HEAVY = [
  'tests/kernels/attention-tiled.test.ts', // 243 s
  'tests/models/golden.test.ts', // 180
  'tests/kernels/attention.test.ts', // 178
  'tests/kernels/decode-matvec.test.ts', // 108
  'tests/bench/scan-lab.test.ts', // 104
  'tests/models/decode.test.ts', // 74
  'tests/kernels/matmul.test.ts', // 58
  'tests/models/demo.test.ts', // 52
  'tests/engine/experiments.test.ts', // 51
  'tests/kernels/sampling.test.ts', // 46
  'tests/models/bin-golden.test.ts', // 42
  'tests/models/shapes.test.ts', // 32-43
  'tests/kernels/scan.test.ts', // 30
  'tests/kernels/ssd.test.ts', // 25
  'tests/models/mamba2.test.ts', // 22
  'tests/roofline/experiments.test.ts', // 22
];

class HeavyFirst extends BaseSequencer {
  async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = HEAVY.findIndex((h) => f.moduleId.endsWith(h));
      return i < 0 ? HEAVY.length : i;
    };
    const rest = await super.sort(files);
    return rest.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

// Kernel tests run on real WebGPU through Dawn in Node (SwiftShader on machines without a GPU, see
// tools/webgpu-env.sh). Files run three at a time (on the 2-core CI machine three keep both cores busy: 409 s vs
// 473 s with two, as a file often waits on a readback or the CPU oracle between compiles); each worker runs its
// files in one module graph (isolate off), so they share one Dawn device and its compiled pipelines (tests/gpu.ts):
// SwiftShader spends most of the suite compiling, and the model tests compile the same pipelines.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 3,
    isolate: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    sequence: { sequencer: HeavyFirst },
  },
});
