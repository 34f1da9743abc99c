/**
 * The packed per-layer SSM weight buffer every scan / step kernel reads (one binding instead of three):
 *   w = [A (D·N, row-major [D, N], already A = −exp(A_log)) | Dskip (D) | deltaBias (D)]   f32, D·(N+2) floats.
 * Build it on the CPU at load time with packSsmParams(), or on the GPU from three f32 buffers with SsmParamsPacker
 * (shaders/ssm_pack_params.wgsl).
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';

/** Number of floats in the packed buffer. */
export function ssmParamsLength(D: number, N: number): number {
  return D * (N + 2);
}

/** CPU packing: A = −exp(A_log) in float64, rounded to f32. */
export function packSsmParams(aLog: ArrayLike<number>, Dskip: ArrayLike<number>, deltaBias: ArrayLike<number>, D: number, N: number): Float32Array {
  if (aLog.length !== D * N) throw new Error(`packSsmParams: A_log has ${aLog.length} values, expected D·N = ${D * N}`);
  if (Dskip.length !== D) throw new Error(`packSsmParams: D has ${Dskip.length} values, expected ${D}`);
  if (deltaBias.length !== D) throw new Error(`packSsmParams: delta_bias has ${deltaBias.length} values, expected ${D}`);
  const w = new Float32Array(ssmParamsLength(D, N));
  for (let i = 0; i < D * N; i++) w[i] = -Math.exp(aLog[i]);
  for (let d = 0; d < D; d++) {
    w[D * N + d] = Dskip[d];
    w[D * N + D + d] = deltaBias[d];
  }
  return w;
}

/** GPU packing from f32 buffers A_log [D, N], D [D], delta_bias [D] into `out` (D·(N+2) floats). */
export class SsmParamsPacker {
  private readonly k: ComputeKernel;
  constructor(ctx: GpuContext) {
    this.k = new ComputeKernel(ctx, 'ssm_pack_params');
  }

  encode(pass: GPUComputePassEncoder, aLog: GPUBuffer, Dskip: GPUBuffer, deltaBias: GPUBuffer, out: GPUBuffer, D: number, N: number): void {
    const need = (b: GPUBuffer, n: number, what: string) => {
      if (b.size < n * 4) throw new Error(`ssm_pack_params: ${what} has ${b.size} bytes, needs ${n * 4}`);
    };
    need(aLog, D * N, 'A_log');
    need(Dskip, D, 'D');
    need(deltaBias, D, 'delta_bias');
    need(out, ssmParamsLength(D, N), 'out');
    const total = ssmParamsLength(D, N);
    this.k.dispatch(pass, { D, N }, [aLog, Dskip, deltaBias, out], [Math.ceil(total / 256)]);
  }
}

/**
 * Packed params per layer, built on the GPU the first time a layer's A_log buffer is seen and cached by its identity:
 * lets a caller that holds A_log, D and delta_bias as separate f32 buffers (the model's Ops.scan / Ops.ssmStep) get
 * the packed buffer inside the pass that uses it (the pack dispatch is recorded just before the scan).
 */
export class SsmParamsCache {
  private readonly packer: SsmParamsPacker;
  private readonly packed = new WeakMap<GPUBuffer, GPUBuffer>();
  private readonly owned: GPUBuffer[] = [];

  constructor(private readonly ctx: GpuContext) {
    this.packer = new SsmParamsPacker(ctx);
  }

  get(pass: GPUComputePassEncoder, aLog: GPUBuffer, Dskip: GPUBuffer, deltaBias: GPUBuffer, D: number, N: number): GPUBuffer {
    let w = this.packed.get(aLog);
    if (!w) {
      w = this.ctx.buffer(ssmParamsLength(D, N) * 4, 'weights', 'ssm-params');
      this.packer.encode(pass, aLog, Dskip, deltaBias, w, D, N);
      this.packed.set(aLog, w);
      this.owned.push(w);
    }
    return w;
  }

  destroy(): void {
    for (const b of this.owned) this.ctx.pool.release(b);
    this.owned.length = 0;
  }
}
