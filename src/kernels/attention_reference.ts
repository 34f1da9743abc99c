/**
 * Reference attention: materialises the causal score matrix (shaders/attention_scores.wgsl,
 * attention_softmax.wgsl, attention_pv.wgsl). Simple and slow; the flash kernel is the default.
 *
 * Scores live in a scratch buffer [H, L, Lk] (Lk = pos0 + L) owned by this wrapper and grown on demand. When that
 * buffer would exceed maxStorageBufferBindingSize (or maxBufferSize) encode() throws a LimitExceededError before
 * recording anything.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import { LimitExceededError } from '../gpu/errors';
import { resolvePrefill, type AttentionDims, type PrefillArgs } from './attention_common';

export class ReferenceAttention {
  private readonly scores: ComputeKernel;
  private readonly softmax: ComputeKernel;
  private readonly pv: ComputeKernel;
  private scratch: GPUBuffer | null = null;
  /** Outgrown scratch buffers: a pass recorded before the growth may still bind them, so they are freed in destroy(). */
  private retired: GPUBuffer[] = [];

  constructor(private readonly ctx: GpuContext, readonly dims: AttentionDims) {
    this.scores = new ComputeKernel(ctx, 'attention_scores');
    this.softmax = new ComputeKernel(ctx, 'attention_softmax');
    this.pv = new ComputeKernel(ctx, 'attention_pv');
  }

  /** Bytes of the score buffer a call with (L, pos0) needs. */
  scoreBytes(L: number, pos0: number): number {
    return this.dims.H * L * (pos0 + L) * 4;
  }

  /** Throws LimitExceededError when the [H, L, Lk] score buffer does not fit one binding. */
  checkFits(L: number, pos0: number): void {
    const bytes = this.scoreBytes(L, pos0);
    const { maxStorageBufferBindingSize, maxBufferSize } = this.ctx.limits;
    const what = `reference attention score buffer [H=${this.dims.H}, L=${L}, Lk=${pos0 + L}] (use the flash variant)`;
    if (bytes > maxStorageBufferBindingSize) throw new LimitExceededError('maxStorageBufferBindingSize', bytes, maxStorageBufferBindingSize, what);
    if (bytes > maxBufferSize) throw new LimitExceededError('maxBufferSize', bytes, maxBufferSize, what);
  }

  encode(pass: GPUComputePassEncoder, a: PrefillArgs): void {
    this.checkFits(a.L, a.pos0);
    const r = resolvePrefill('reference attention', this.dims, a);
    const { H, hd, L, pos0, maxLen } = r;
    if (L > this.ctx.limits.maxComputeWorkgroupsPerDimension) throw new Error(`reference attention: L = ${L} exceeds maxComputeWorkgroupsPerDimension (softmax grid)`);
    const bytes = this.scoreBytes(L, pos0);
    if (!this.scratch || this.scratch.size < bytes) {
      if (this.scratch) this.retired.push(this.scratch);
      this.scratch = this.ctx.buffer(bytes, 'scratch', 'attention.scores');
    }
    const s = this.scratch;
    const Lk = pos0 + L;
    this.scores.dispatch(
      pass,
      {
        L, Lk, hd, maxLen, pos0, scale: 1 / Math.sqrt(hd), qOffset: r.q.offset, qRowStride: r.q.rowStride,
        qHeadStride: r.q.headStride,
      },
      [a.q, a.kCache, s],
      [Math.ceil(Lk / 32), Math.ceil(L / 32), H],
    );
    this.softmax.dispatch(pass, { L, Lk, pos0 }, [s], [L, H]);
    this.pv.dispatch(
      pass,
      { L, Lk, hd, maxLen, pos0, H, outOffset: r.out.offset, outRowStride: r.out.rowStride },
      [s, a.vCache, a.out],
      [Math.ceil(hd / 32), Math.ceil(L / 32), H],
    );
  }

  /** Frees the score buffers (after the last pass that used this wrapper was submitted). */
  destroy(): void {
    for (const b of this.retired) this.ctx.pool.release(b);
    this.retired = [];
    this.ctx.pool.release(this.scratch);
    this.scratch = null;
  }
}
