/**
 * Attention for the GPT-NeoX model: one wrapper over the three kernels.
 *
 * Layouts (f32, row-major, batch 1):
 *   q       [H, L, hd]       rotated queries of the L tokens at positions pos0..pos0+L-1 (RotaryKvKernel writes it)
 *   kCache  [H, maxLen, hd]  rotated keys, row (h, pos)   (KvCache.k)
 *   vCache  [H, maxLen, hd]  values                       (KvCache.v)
 *   out     [L, H*hd]        merged heads, head h at columns h*hd (the input of the dense output projection)
 * pos0: how many positions were already in the cache before this chunk. The caller appends the chunk's k/v at rows
 * pos0..pos0+L-1 first (RotaryKvKernel), then query i (position pos0+i) attends to keys 0..pos0+i. pos0 = 0 is a
 * plain prefill; pos0 > 0 is chunked prefill after a cached prefix.
 *
 * variant 'flash' (default): tiled online softmax (FlashAttention), any L that fits the cache.
 * variant 'reference': materialises the [H, L, pos0+L] score matrix; throws LimitExceededError when it does not fit.
 * encodeDecode(): one token at position pos, split-K over the cache (flash-decoding).
 */
import type { GpuContext } from '../gpu/context';
import type { AttentionDims } from './attention_common';
import { FlashAttention, type FlashOptions } from './attention_flash';
import { ReferenceAttention } from './attention_reference';
import { DecodeAttention, type DecodeOptions } from './attention_decode';

export type AttentionVariant = 'flash' | 'reference';
export type { AttentionDims };
export { FlashAttention, ReferenceAttention, DecodeAttention };

export interface AttentionOptions extends AttentionDims {
  variant?: AttentionVariant;
  flash?: FlashOptions;
  decode?: DecodeOptions;
}

export class Attention {
  variant: AttentionVariant;
  readonly dims: AttentionDims;
  private flashK: FlashAttention | null = null;
  private refK: ReferenceAttention | null = null;
  private decodeK: DecodeAttention | null = null;

  constructor(private readonly ctx: GpuContext, private readonly opts: AttentionOptions) {
    this.dims = { H: opts.H, hd: opts.hd, maxLen: opts.maxLen };
    this.variant = opts.variant ?? 'flash';
  }

  get flash(): FlashAttention {
    return (this.flashK ??= new FlashAttention(this.ctx, this.dims, this.opts.flash));
  }

  get reference(): ReferenceAttention {
    return (this.refK ??= new ReferenceAttention(this.ctx, this.dims));
  }

  get decode(): DecodeAttention {
    return (this.decodeK ??= new DecodeAttention(this.ctx, this.dims, this.opts.decode));
  }

  /** Prefill / chunked prefill: q [H, L, hd], caches [H, maxLen, hd] (rows 0..pos0+L-1 filled), out [L, H*hd]. */
  encode(pass: GPUComputePassEncoder, q: GPUBuffer, kCache: GPUBuffer, vCache: GPUBuffer, out: GPUBuffer, L: number, pos0: number, variant = this.variant): void {
    if (variant === 'reference') this.reference.encode(pass, q, kCache, vCache, out, L, pos0);
    else this.flash.encode(pass, q, kCache, vCache, out, L, pos0);
  }

  /** Decode one token at position pos: q [H, hd], caches with rows 0..pos filled, out [H*hd]. */
  encodeDecode(pass: GPUComputePassEncoder, q: GPUBuffer, kCache: GPUBuffer, vCache: GPUBuffer, out: GPUBuffer, pos: number): void {
    this.decode.encode(pass, q, kCache, vCache, out, pos);
  }

  destroy(): void {
    this.refK?.destroy();
    this.decodeK?.destroy();
    this.refK = this.flashK = this.decodeK = null;
  }
}
