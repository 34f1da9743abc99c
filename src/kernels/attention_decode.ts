/**
 * Decode attention over the KV cache, split-K ("flash-decoding"): shaders/attention_decode_split.wgsl computes
 * per-(chunk, head) partial max / sum / accumulator, shaders/attention_decode_combine.wgsl merges them.
 *
 * Chunking: the wrapper aims for >= ~256 workgroups: chunk = clamp(roundUp(ceil((pos+1) / ceil(256/H)), 64), 64,
 * 512) keys, nsplit = ceil((pos+1) / chunk). The partial buffer [H, nsplit, hd+4] floats is owned by the wrapper
 * and grown on demand (outgrown ones are kept until destroy(), since an unsubmitted pass may still bind them).
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import { resolvePrefill, type AttentionDims, type DecodeArgs } from './attention_common';

export interface DecodeOptions {
  /** Force the chunk length (multiple of 1, <= 512), for tests. */
  chunk?: number;
}

export class DecodeAttention {
  private readonly split: ComputeKernel;
  private readonly combine: ComputeKernel;
  private part: GPUBuffer | null = null;
  private retired: GPUBuffer[] = [];

  constructor(private readonly ctx: GpuContext, readonly dims: AttentionDims, private readonly opts: DecodeOptions = {}) {
    const { hd } = dims;
    if (hd % 4 !== 0 || hd / 4 > 128) throw new Error(`decode attention: head dim ${hd} must be a multiple of 4 and <= 512`);
    if (opts.chunk !== undefined && (!Number.isInteger(opts.chunk) || opts.chunk < 1 || opts.chunk > 512)) throw new Error(`decode attention: chunk ${opts.chunk} not in 1..512`);
    this.split = new ComputeKernel(ctx, 'attention_decode_split', { consts: { HD4: hd / 4 } });
    this.combine = new ComputeKernel(ctx, 'attention_decode_combine', { consts: { HD4: hd / 4 } });
  }

  /** Chunk length and split count used for a query at position pos. */
  plan(pos: number): { chunk: number; nsplit: number } {
    const n = pos + 1;
    const target = Math.ceil(256 / this.dims.H);
    const chunk = this.opts.chunk ?? Math.min(512, Math.max(64, Math.ceil(Math.ceil(n / target) / 64) * 64));
    return { chunk, nsplit: Math.ceil(n / chunk) };
  }

  encode(pass: GPUComputePassEncoder, a: DecodeArgs): void {
    const what = 'decode attention';
    const r = resolvePrefill(what, this.dims, { ...a, L: 1, pos0: a.pos, qLayout: a.qLayout ?? { offset: 0, rowStride: this.dims.H * this.dims.hd, headStride: this.dims.hd } }, true);
    const { H, hd, maxLen, pos0: pos } = r;
    const { chunk, nsplit } = this.plan(pos);
    const bytes = H * nsplit * (hd + 4) * 4;
    if (!this.part || this.part.size < bytes) {
      if (this.part) this.retired.push(this.part);
      this.part = this.ctx.buffer(Math.max(bytes, H * 16 * (hd + 4) * 4), 'scratch', 'attention.decode.partials');
    }
    this.split.dispatch(
      pass,
      {
        pos, maxLen, chunk, nsplit, scale: 1 / Math.sqrt(hd), qOffset4: r.q.offset / 4,
        qHeadStride4: r.q.headStride / 4,
      },
      [a.q, a.kCache, a.vCache, this.part],
      [nsplit, H],
    );
    this.combine.dispatch(pass, { nsplit, oOffset4: r.out.offset / 4 }, [this.part, a.out], [H]);
  }

  destroy(): void {
    for (const b of this.retired) this.ctx.pool.release(b);
    this.retired = [];
    this.ctx.pool.release(this.part);
    this.part = null;
  }
}
