/**
 * Attention for the GPT-NeoX model: one wrapper over the three kernels.
 *
 * Layouts (f32, row-major, batch 1; offsets/strides in elements, see ./attention_common.ts):
 *   q       rotated queries of the L tokens at positions pos0..pos0+L-1, element (h, i, d) at
 *           qLayout.offset + i*rowStride + h*headStride + d. Default [H, L, hd] (headsMajorLayout); the model reads
 *           q in place from the fused qkv activations [L, H, 3, hd] with fusedQkvLayout(H, hd).
 *   kCache  [H, maxLen, hd]  rotated keys, row (h, pos)   (RotaryKvKernel writes rows pos0..pos0+L-1)
 *   vCache  [H, maxLen, hd]  values
 *   out     merged heads [L, H*hd] (head h at columns h*hd), or outLayout (offset, rowStride) for a view.
 * pos0: how many positions were already in the cache before this chunk. The caller appends the chunk's k/v at rows
 * pos0..pos0+L-1 first (RotaryKvKernel), then query i (position pos0+i) attends to keys 0..pos0+i. pos0 = 0 is a
 * plain prefill; pos0 > 0 is chunked prefill after a cached prefix. maxLen (the cache capacity) may change between
 * calls (the model grows its cache); pass it per call or set a default in the constructor.
 *
 * variant 'flash' (default): tiled online softmax (FlashAttention), any L that fits the cache.
 * variant 'reference': materialises the [H, L, pos0+L] score matrix; throws LimitExceededError when it does not fit.
 * encodeDecode(): one token at position pos, split-K over the cache (flash-decoding).
 */
import type { GpuContext } from '../gpu/context';
import type { AttentionDims, DecodeArgs, PrefillArgs } from './attention_common';
import { FlashAttention } from './attention_flash';
import type { FlashOptions } from './attention_flash_plan';
import { ReferenceAttention } from './attention_reference';
import { DecodeAttention, type DecodeOptions } from './attention_decode';

export type AttentionVariant = 'flash' | 'reference';
export type { AttentionDims, DecodeArgs, PrefillArgs };
export type { QLayout, OutLayout } from './attention_common';
export { headsMajorLayout, fusedQkvLayout } from './attention_common';
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

  /** Prefill / chunked prefill with this.variant (or the variant given). */
  encode(pass: GPUComputePassEncoder, args: PrefillArgs, variant: AttentionVariant = this.variant): void {
    if (variant === 'reference') this.reference.encode(pass, args);
    else this.flash.encode(pass, args);
  }

  /** Decode one token at position pos (cache rows 0..pos filled, its own k/v included). */
  encodeDecode(pass: GPUComputePassEncoder, args: DecodeArgs): void {
    this.decode.encode(pass, args);
  }

  /** Frees the wrapper's scratch buffers (score matrix, split-K partials). */
  destroy(): void {
    this.refK?.destroy();
    this.decodeK?.destroy();
    this.refK = this.flashK = this.decodeK = null;
  }
}
