/**
 * Test helper: a KV cache for one attention layer (the models allocate their caches themselves): two buffers (K and V), each [H, maxLen, hd] f32 row-major, counted under the
 * pool's 'kv-cache' category. Row (h, pos) of K holds the rotated key of head h at position pos (RotaryKvKernel
 * writes it); V likewise holds the raw value. `length` is how many positions are filled (0..length-1); the
 * attention kernels read rows 0..pos0+L-1 for a chunk at pos0, so the caller appends before attending.
 */
import type { GpuContext } from '../../src/gpu/context';
import { LimitExceededError } from '../../src/gpu/errors';

export class KvCache {
  readonly k: GPUBuffer;
  readonly v: GPUBuffer;
  /** Positions filled so far (the model advances it after each prefill chunk / decode step). */
  length = 0;

  constructor(
    private readonly ctx: GpuContext,
    readonly H: number,
    readonly hd: number,
    readonly maxLen: number,
    label = 'kv',
  ) {
    const bytes = KvCache.bytesPerBuffer(H, hd, maxLen);
    if (bytes > ctx.limits.maxStorageBufferBindingSize) {
      throw new LimitExceededError('maxStorageBufferBindingSize', bytes, ctx.limits.maxStorageBufferBindingSize, `KV cache ${label} [H=${H}, maxLen=${maxLen}, hd=${hd}]`);
    }
    this.k = ctx.buffer(bytes, 'kv-cache', `${label}.k`);
    this.v = ctx.buffer(bytes, 'kv-cache', `${label}.v`);
  }

  static bytesPerBuffer(H: number, hd: number, maxLen: number): number {
    return H * maxLen * hd * 4;
  }

  /** Longest context that fits one binding for this head shape. */
  static maxLenFor(ctx: GpuContext, H: number, hd: number): number {
    return Math.floor(ctx.limits.maxStorageBufferBindingSize / (H * hd * 4));
  }

  reset(): void {
    this.length = 0;
  }

  destroy(): void {
    this.ctx.pool.release(this.k);
    this.ctx.pool.release(this.v);
  }
}
