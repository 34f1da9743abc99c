/**
 * Kernels for the selectivity view (not on the generation hot path):
 *   DeltaMeanKernel (shaders/delta_mean.wgsl): Mamba's step size Δ = softplus(delta + bias) averaged over the D
 *     channels, one value per token, written at out.offset + t.
 *   AttentionRowProbsKernel (shaders/attention_row_probs.wgsl): the softmax weights of one query over keys
 *     0..n−1, averaged over heads, written at out.offset + j.
 * CPU oracles: src/reference/diagnostics.ts.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import { asView, checkView, type ViewLike } from './matmul';

export interface VecOut {
  buffer: GPUBuffer;
  /** In floats. */
  offset: number;
}

function checkOut(what: string, o: VecOut, n: number): void {
  if (!Number.isInteger(o.offset) || o.offset < 0) throw new Error(`${what}: out offset ${o.offset} must be a non-negative integer`);
  if (o.offset + n > o.buffer.size / 4) throw new Error(`${what}: out needs ${o.offset + n} floats, the buffer holds ${o.buffer.size / 4}`);
}

export class DeltaMeanKernel {
  private readonly k: ComputeKernel;
  constructor(ctx: GpuContext, readonly D: number) {
    this.k = new ComputeKernel(ctx, 'delta_mean');
  }

  /** delta: [L, D] view (before bias and softplus); bias: [D]; out: L floats; limit: clamp each Δ into [lo, hi]
   *  (Mamba-2's time_step_limit). */
  encode(pass: GPUComputePassEncoder, delta: ViewLike, bias: GPUBuffer, out: VecOut, L: number, limit?: [number, number]): void {
    const v = asView(delta, this.D);
    checkView('delta_mean delta', v, L, this.D);
    checkOut('delta_mean', out, L);
    if (bias.size < this.D * 4) throw new Error(`delta_mean: bias holds ${bias.size / 4} floats, expected D = ${this.D}`);
    this.k.dispatch(
      pass,
      {
        L, D: this.D, xOff: v.offset, xStride: v.rowStride, outOff: out.offset,
        clampDt: limit ? 1 : 0, lo: limit?.[0] ?? 0, hi: Math.min(limit?.[1] ?? 0, 3.0e38),
      },
      [v.buffer, bias, out.buffer],
      [Math.min(L, 32768), Math.ceil(L / 32768)],
    );
  }
}

export interface RowProbsArgs {
  /** Buffer holding the (rotated) query; head h at qOffset + h·qHeadStride. */
  q: GPUBuffer;
  qOffset: number;
  qHeadStride: number;
  /** [H, maxLen, hd] rotated keys, rows 0..n−1 filled. */
  kCache: GPUBuffer;
  maxLen: number;
  /** Number of keys (query position + 1). */
  n: number;
  out: VecOut;
}

export class AttentionRowProbsKernel {
  private readonly k: ComputeKernel;
  constructor(ctx: GpuContext, readonly H: number, readonly hd: number) {
    this.k = new ComputeKernel(ctx, 'attention_row_probs');
  }

  encode(pass: GPUComputePassEncoder, a: RowProbsArgs): void {
    const { H, hd } = this;
    if (!(a.n >= 1 && a.n <= a.maxLen)) throw new Error(`attention_row_probs: n = ${a.n} must be in [1, maxLen = ${a.maxLen}]`);
    if (a.kCache.size < H * a.maxLen * hd * 4) throw new Error(`attention_row_probs: kCache holds ${a.kCache.size / 4} floats, expected H·maxLen·hd = ${H * a.maxLen * hd}`);
    if (a.q.size / 4 < a.qOffset + (H - 1) * a.qHeadStride + hd) throw new Error('attention_row_probs: q view does not fit its buffer');
    checkOut('attention_row_probs', a.out, a.n);
    this.k.dispatch(
      pass,
      {
        H, hd, n: a.n, maxLen: a.maxLen, qOff: a.qOffset, qHeadStride: a.qHeadStride, outOff: a.out.offset,
        scale: 1 / Math.sqrt(hd),
      },
      [a.q, a.kCache, a.out.buffer],
      [1],
    );
  }
}
