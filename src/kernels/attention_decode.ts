/**
 * Decode attention over the KV cache, split-K ("flash-decoding"): shaders/attention_decode_split.wgsl computes
 * per-(chunk, head) partial max / sum / accumulator, shaders/attention_decode_combine.wgsl merges them.
 *
 * Chunking: the wrapper aims for >= ~256 workgroups: chunk = clamp(roundUp(ceil((pos+1) / ceil(256/H)), 64), 64,
 * 512) keys, nsplit = ceil((pos+1) / chunk). The partial buffer [H, nsplit, hd+4] floats is owned by the wrapper,
 * sized for maxLen up front (H * ceil(maxLen/64) * (hd+4) floats).
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, packUniforms } from '../gpu/kernel';
import { checkBuffer, type AttentionDims } from './attention_common';

export interface DecodeOptions {
  /** Force the chunk length (multiple of 1, <= 512), for tests. */
  chunk?: number;
}

export class DecodeAttention {
  private readonly split: ComputeKernel;
  private readonly combine: ComputeKernel;
  private readonly part: GPUBuffer;

  constructor(private readonly ctx: GpuContext, readonly dims: AttentionDims, private readonly opts: DecodeOptions = {}) {
    const { hd, H, maxLen } = dims;
    if (hd % 4 !== 0 || hd / 4 > 128) throw new Error(`decode attention: head dim ${hd} must be a multiple of 4 and <= 512`);
    if (opts.chunk !== undefined && (opts.chunk < 1 || opts.chunk > 512)) throw new Error(`decode attention: chunk ${opts.chunk} not in 1..512`);
    const prelude = `const HD4: u32 = ${hd / 4}u;\n`;
    this.split = new ComputeKernel(ctx, 'attention_decode_split', 'main', {}, prelude);
    this.combine = new ComputeKernel(ctx, 'attention_decode_combine', 'main', {}, prelude);
    const minChunk = Math.min(64, opts.chunk ?? 64);
    this.part = ctx.buffer(H * Math.ceil(maxLen / minChunk) * (hd + 4) * 4, 'scratch', 'attention.decode.partials');
  }

  /** Chunk length and split count used for a query at position pos. */
  plan(pos: number): { chunk: number; nsplit: number } {
    const n = pos + 1;
    const target = Math.ceil(256 / this.dims.H);
    const chunk = this.opts.chunk ?? Math.min(512, Math.max(64, Math.ceil(Math.ceil(n / target) / 64) * 64));
    return { chunk, nsplit: Math.ceil(n / chunk) };
  }

  /**
   * q [H, hd] (the token at position pos, rotated), kCache/vCache [H, maxLen, hd] with rows 0..pos filled
   * (the token's own k/v included), out [H*hd].
   */
  encode(pass: GPUComputePassEncoder, q: GPUBuffer, kCache: GPUBuffer, vCache: GPUBuffer, out: GPUBuffer, pos: number): void {
    const { H, hd, maxLen } = this.dims;
    const what = 'decode attention';
    if (!Number.isInteger(pos) || pos < 0) throw new Error(`${what}: pos = ${pos} must be a non-negative integer`);
    if (pos >= maxLen) throw new Error(`${what}: pos = ${pos} is outside the KV cache (maxLen = ${maxLen})`);
    checkBuffer(what, 'q', q, H * hd);
    checkBuffer(what, 'kCache', kCache, H * maxLen * hd);
    checkBuffer(what, 'vCache', vCache, H * maxLen * hd);
    checkBuffer(what, 'out', out, H * hd);
    const { chunk, nsplit } = this.plan(pos);
    this.split.dispatch(
      pass,
      packUniforms([['u32', pos], ['u32', maxLen], ['u32', chunk], ['u32', nsplit], ['f32', 1 / Math.sqrt(hd)]]),
      [q, kCache, vCache, this.part],
      [nsplit, H],
    );
    this.combine.dispatch(pass, packUniforms([['u32', nsplit]]), [this.part, out], [H]);
  }

  destroy(): void {
    this.ctx.pool.release(this.part);
  }
}
