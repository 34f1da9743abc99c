/**
 * Flash attention (shaders/flash_attention.wgsl): tiled causal attention with online softmax, no L x L buffer.
 *
 * Tile choice (per head dim, from the device's limits): G threads per query row such that each thread holds at
 * most 8 vec4s (32 floats) of q and of the output accumulator (hd 64: G=2, 128: G=4, 256: G=8); BR query rows per
 * workgroup (64, or 256/G when that is smaller, i.e. 32 for hd 256); BC key rows per block, the largest multiple of
 * 4 (<= 64) with 2*BC*hd*4 + BC*BR*G*4 bytes <= maxComputeWorkgroupStorageSize (or opts.maxWorkgroupStorage).
 * At the 16 KiB WebGPU default: hd 64 -> BR 64, BC 16; hd 128 -> BR 64, BC 8; hd 256 -> BR 32, BC 4.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, packUniforms } from '../gpu/kernel';
import { LimitExceededError } from '../gpu/errors';
import { resolvePrefill, type AttentionDims, type PrefillArgs } from './attention_common';

export interface FlashTiles {
  G: number;
  BR: number;
  BC: number;
  /** Workgroup storage the tiles use, bytes. */
  storage: number;
}

export interface FlashOptions {
  /** Cap on workgroup storage (defaults to the device's maxComputeWorkgroupStorageSize). */
  maxWorkgroupStorage?: number;
  /** Force tile sizes (tests); BC must fit the storage cap. */
  BR?: number;
  BC?: number;
}

export function flashTiles(hd: number, maxStorage: number, maxInvocations: number, opts: FlashOptions = {}): FlashTiles {
  if (hd % 4 !== 0) throw new Error(`flash attention: head dim ${hd} must be a multiple of 4`);
  const HD4 = hd / 4;
  let G = 1;
  while (G <= 64 && (HD4 % G !== 0 || HD4 / G > 8)) G *= 2;
  if (G > 64) throw new Error(`flash attention: no thread split for head dim ${hd}`);
  let BR = opts.BR ?? Math.min(64, Math.floor(maxInvocations / G));
  if (BR * G > maxInvocations) throw new Error(`flash attention: BR ${BR} x G ${G} exceeds maxComputeInvocationsPerWorkgroup ${maxInvocations}`);
  const perKey = 2 * HD4 * 16 + BR * G * 4;
  let BC = opts.BC ?? Math.min(64, Math.floor(maxStorage / perKey / 4) * 4);
  while (BC < 4 && !opts.BC && BR > 8) {
    BR /= 2;
    BC = Math.min(64, Math.floor(maxStorage / (2 * HD4 * 16 + BR * G * 4) / 4) * 4);
  }
  const storage = BC * (2 * HD4 * 16 + BR * G * 4);
  if (BC < 1 || storage > maxStorage) {
    throw new LimitExceededError('maxComputeWorkgroupStorageSize', storage, maxStorage, `flash attention tiles for head dim ${hd}`);
  }
  return { G, BR, BC, storage };
}

export class FlashAttention {
  readonly tiles: FlashTiles;
  private readonly k: ComputeKernel;

  constructor(ctx: GpuContext, readonly dims: AttentionDims, opts: FlashOptions = {}) {
    const maxStorage = Math.min(opts.maxWorkgroupStorage ?? Infinity, ctx.limits.maxComputeWorkgroupStorageSize);
    this.tiles = flashTiles(dims.hd, maxStorage, ctx.limits.maxComputeInvocationsPerWorkgroup, opts);
    const { G, BR, BC } = this.tiles;
    const HD4 = dims.hd / 4;
    const prelude = `const HD4: u32 = ${HD4}u;\nconst G: u32 = ${G}u;\nconst DPT4: u32 = ${HD4 / G}u;\nconst BR: u32 = ${BR}u;\nconst BC: u32 = ${BC}u;\n`;
    this.k = new ComputeKernel(ctx, 'flash_attention', 'main', {}, prelude);
  }

  encode(pass: GPUComputePassEncoder, a: PrefillArgs): void {
    const r = resolvePrefill('flash attention', this.dims, a, true);
    this.k.dispatch(
      pass,
      packUniforms([
        ['u32', r.L], ['u32', r.pos0], ['u32', r.maxLen], ['u32', r.H], ['f32', 1 / Math.sqrt(r.hd)],
        ['u32', r.q.offset / 4], ['u32', r.q.rowStride / 4], ['u32', r.q.headStride / 4],
        ['u32', r.out.offset / 4], ['u32', r.out.rowStride / 4], ['u32', Math.ceil(r.L / this.tiles.BR)],
      ]),
      [a.q, a.kCache, a.vCache, a.out],
      [Math.ceil(r.L / this.tiles.BR), r.H],
    );
  }
}
