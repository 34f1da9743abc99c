/** vec4 copy: the bandwidth reference for benchmarks (shaders/copy_vec4.wgsl). */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';

export function copyReference(src: Float32Array): Float32Array {
  return src.slice();
}

export class CopyKernel {
  private readonly k: ComputeKernel;
  constructor(private readonly ctx: GpuContext) {
    this.k = new ComputeKernel(ctx, 'copy_vec4');
  }

  /** Copies `n` floats (n a multiple of 4) from src to dst. */
  encode(pass: GPUComputePassEncoder, src: GPUBuffer, dst: GPUBuffer, n: number): void {
    if (n % 4 !== 0) throw new Error(`copy_vec4: n = ${n} is not a multiple of 4`);
    const n4 = n / 4;
    const groups = Math.ceil(n4 / 256);
    const gx = Math.min(groups, 4096);
    const gy = Math.min(Math.ceil(groups / gx), this.ctx.limits.maxComputeWorkgroupsPerDimension);
    const stride = gx * gy * 256;
    this.k.dispatch(pass, { n4, stride }, [src, dst], [gx, gy]);
  }
}
