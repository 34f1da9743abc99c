/**
 * Bench inputs generated on the GPU (shaders/bench_fill_random.wgsl): a multi-GB input (the scan at L = 131072 reads
 * 4 GB) is filled in a millisecond instead of seconds of CPU work and upload, during which the GPU would sit idle and
 * drop its clocks before the next timed case.
 */
import type { GpuContext } from '../gpu/context';
import type { Category } from '../gpu/pool';
import { ComputeKernel } from '../gpu/kernel';
import { grid2d } from '../kernels/scan';

export class GpuFiller {
  private readonly k: ComputeKernel;
  /** `maxDim` overrides the per-dimension workgroup limit (tests use a small one to cover 2-D grids). */
  constructor(private readonly ctx: GpuContext, private readonly maxDim = ctx.limits.maxComputeWorkgroupsPerDimension) {
    this.k = new ComputeKernel(ctx, 'bench_fill_random');
  }

  /** Fills `buffer`'s first n floats with offset + scale·g, g ≈ N(0, 1) from a hash of (seed, index). */
  fill(buffer: GPUBuffer, n: number, seed: number, scale = 1, offset = 0): void {
    const g = grid2d(n, this.maxDim);
    this.ctx.run((pass) =>
      this.k.dispatch(pass, { n, seed, stride: g.stride, scale, offset }, [buffer], [g.gx, g.gy]),
    );
  }

  /** A new buffer of n floats filled as fill() does. */
  buffer(n: number, seed: number, scale: number, label: string, category: Category = 'activations'): GPUBuffer {
    const b = this.ctx.buffer(n * 4, category, label);
    this.fill(b, n, seed, scale);
    return b;
  }
}
