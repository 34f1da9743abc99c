/**
 * Flash attention: causal attention with online softmax, no L x L buffer. Two kernels, same bindings and uniforms:
 *
 * 'tiled' (shaders/flash_attention_tiled.wgsl, the default where it fits): register-tiled like a matmul. A workgroup
 *   takes BR queries of one head and walks key blocks of BC keys; thread (ty, tx) of an (BR/TR) x (BC/TC) grid owns
 *   a TR x TC tile of the score block and a TR x (hd / (BC/TC)) tile of the output. Q^T, K^T (then P^T) and V are
 *   staged in workgroup memory: 4 * (hd*BR + max(hd*BC, BC*BR) + BC*hd) bytes, plus 4 * BR * BC/TC for the row
 *   reductions unless they use subgroup shuffles (sg: needs the subgroups feature and subgroupMinSize >= BC/TC, a
 *   power of two).
 * 'rowwise' (shaders/flash_attention.wgsl, the fallback): G threads per query row hold q and the output row in
 *   registers; fits the 16 KiB WebGPU default for every head dim (see rowwiseTiles).
 *
 * Tile choice (tiledTiles): the first of TILED_PREFERENCE that divides the head dim, fits the device's
 * maxComputeWorkgroupStorageSize (or opts.maxWorkgroupStorage) and maxComputeInvocationsPerWorkgroup, and has at
 * least 64 threads; otherwise 'rowwise'. hd 64 at 32-48 KiB -> BR 64, BC 32 (128 threads, 34 KiB); at the 16 KiB
 * default -> rowwise. Options force a kernel or tiles (tests, bench candidates).
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, packUniforms } from '../gpu/kernel';
import { LimitExceededError } from '../gpu/errors';
import { loadShader } from '../gpu/shaders';
import { resolvePrefill, type AttentionDims, type PrefillArgs } from './attention_common';

export type FlashKernel = 'tiled' | 'rowwise';

export interface RowwiseTiles {
  kernel: 'rowwise';
  /** Threads per query row. */
  G: number;
  BR: number;
  BC: number;
  /** Workgroup storage the tiles use, bytes. */
  storage: number;
  threads: number;
}

export interface TiledTiles {
  kernel: 'tiled';
  /** Queries per workgroup. */
  BR: number;
  /** Keys per block. */
  BC: number;
  /** Query rows per thread (4 or 8). */
  TR: number;
  /** Keys per thread in the score tile (4 or 8). */
  TC: number;
  /** Row reductions with subgroup shuffles instead of workgroup memory. */
  sg: boolean;
  /** Prefetch the next key block's K and V into registers during the current block's math. */
  pf: boolean;
  storage: number;
  threads: number;
}

export type FlashTiles = RowwiseTiles | TiledTiles;

export interface FlashOptions {
  /** Cap on workgroup storage (defaults to the device's maxComputeWorkgroupStorageSize). */
  maxWorkgroupStorage?: number;
  /** Force a kernel (default: tiled where some tiling fits, else rowwise). */
  kernel?: FlashKernel;
  /** Force tile sizes (tests, bench candidates); must fit the limits. TR only applies to 'tiled'. */
  BR?: number;
  BC?: number;
  TR?: number;
  TC?: number;
  /** Tiled kernel: row reductions with subgroup shuffles (default false); throws when the device cannot. */
  subgroups?: boolean;
  /** Tiled kernel: register prefetch of the next K/V block (default false). */
  prefetch?: boolean;
}

/** What the tiled kernel's subgroup path needs from the device: the feature and the smallest subgroup size (0: none). */
export interface SubgroupSupport {
  minSize: number;
}

/** Tiles of the rowwise kernel (the pre-register-tiling kernel, kept as the fallback). */
export function rowwiseTiles(hd: number, maxStorage: number, maxInvocations: number, opts: FlashOptions = {}): RowwiseTiles {
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
  return { kernel: 'rowwise', G, BR, BC, storage, threads: BR * G };
}

/** Workgroup storage of the tiled kernel, bytes. */
export function tiledStorage(hd: number, BR: number, BC: number, sg = false, TC = 4): number {
  return 4 * (hd * BR + Math.max(hd * BC, BC * BR) + BC * hd + (sg ? 0 : (BR * BC) / TC));
}

/** Why (BR, BC, TR, sg, TC) cannot run the tiled kernel for head dim hd under these limits, or null when it can.
 * sgMinSize: the adapter's smallest subgroup size, 0 when subgroups are not available. */
export function tiledProblem(hd: number, BR: number, BC: number, TR: number, maxStorage: number, maxInvocations: number, sg = false, sgMinSize = 0, TC = 4): string | null {
  if (hd % 4 !== 0) return `head dim ${hd} is not a multiple of 4`;
  if (TR !== 4 && TR !== 8) return `TR = ${TR} must be 4 or 8`;
  if (TC !== 4 && TC !== 8) return `TC = ${TC} must be 4 or 8`;
  if (!Number.isInteger(BR) || BR < TR || BR % TR !== 0) return `BR = ${BR} must be a positive multiple of TR = ${TR}`;
  if (!Number.isInteger(BC) || BC < TC || BC % TC !== 0) return `BC = ${BC} must be a positive multiple of TC = ${TC}`;
  const ntx = BC / TC;
  if ((hd / 4) % ntx !== 0) return `BC/TC = ${ntx} must divide hd/4 = ${hd / 4}`;
  const threads = (BR / TR) * ntx;
  if (threads > maxInvocations) return `${threads} threads exceed maxComputeInvocationsPerWorkgroup ${maxInvocations}`;
  if (sg) {
    if (sgMinSize < 1) return 'subgroups are not available';
    if ((ntx & (ntx - 1)) !== 0) return `BC/TC = ${ntx} must be a power of two for subgroup reductions`;
    if (ntx > sgMinSize) return `BC/TC = ${ntx} exceeds the smallest subgroup size ${sgMinSize}`;
  }
  const storage = tiledStorage(hd, BR, BC, sg, TC);
  if (storage > maxStorage) return `${storage} bytes of workgroup storage exceed ${maxStorage}`;
  return null;
}

/** Candidate (BR, BC, TR) in order of preference for the default choice. */
export const TILED_PREFERENCE: readonly [number, number, number][] = [
  [64, 32, 4], [32, 64, 4], [64, 16, 4], [32, 32, 4], [64, 8, 4], [32, 16, 4],
];

/** Tiles of the tiled kernel: forced by opts, else the first preferred tiling that fits with >= 64 threads; null when none. */
export function tiledTiles(hd: number, maxStorage: number, maxInvocations: number, opts: FlashOptions = {}, sgMinSize = 0): TiledTiles | null {
  const sg = opts.subgroups ?? false;
  const pf = opts.prefetch ?? false;
  const make = (BR: number, BC: number, TR: number, TC: number): TiledTiles => ({
    kernel: 'tiled', BR, BC, TR, TC, sg, pf, storage: tiledStorage(hd, BR, BC, sg, TC), threads: (BR / TR) * (BC / TC),
  });
  if (opts.BR !== undefined || opts.BC !== undefined || opts.TR !== undefined || opts.TC !== undefined || sg) {
    const BR = opts.BR ?? 64, BC = opts.BC ?? 32, TR = opts.TR ?? 4, TC = opts.TC ?? 4;
    const why = tiledProblem(hd, BR, BC, TR, maxStorage, maxInvocations, sg, sgMinSize, TC);
    if (why) {
      if (why.includes('workgroup storage')) throw new LimitExceededError('maxComputeWorkgroupStorageSize', tiledStorage(hd, BR, BC, sg, TC), maxStorage, `flash attention tiles BR=${BR} BC=${BC} for head dim ${hd}`);
      throw new Error(`flash attention (tiled): ${why}`);
    }
    return make(BR, BC, TR, TC);
  }
  for (const [BR, BC, TR] of TILED_PREFERENCE) {
    if ((BR / TR) * (BC / 4) < 64) continue;
    if (!tiledProblem(hd, BR, BC, TR, maxStorage, maxInvocations)) return make(BR, BC, TR, 4);
  }
  return null;
}

/** The kernel and tiles FlashAttention uses for this head dim and these limits (sgMinSize 0: no subgroups). */
export function flashTiles(hd: number, maxStorage: number, maxInvocations: number, opts: FlashOptions = {}, sgMinSize = 0): FlashTiles {
  if (opts.kernel === 'rowwise') return rowwiseTiles(hd, maxStorage, maxInvocations, opts);
  const t = tiledTiles(hd, maxStorage, maxInvocations, opts, sgMinSize);
  if (t) return t;
  if (opts.kernel === 'tiled') throw new Error(`flash attention: no tiled kernel tiling fits head dim ${hd} in ${maxStorage} bytes of workgroup storage`);
  return rowwiseTiles(hd, maxStorage, maxInvocations, opts);
}

/** The adapter's smallest subgroup size when the device has the subgroups feature, else 0. */
export function subgroupMinSize(ctx: GpuContext): number {
  return ctx.has('subgroups') ? ctx.acquired.adapterInfo.subgroupMinSize : 0;
}

export class FlashAttention {
  readonly tiles: FlashTiles;
  private readonly k: ComputeKernel;

  constructor(ctx: GpuContext, readonly dims: AttentionDims, opts: FlashOptions = {}) {
    const maxStorage = Math.min(opts.maxWorkgroupStorage ?? Infinity, ctx.limits.maxComputeWorkgroupStorageSize);
    this.tiles = flashTiles(dims.hd, maxStorage, ctx.limits.maxComputeInvocationsPerWorkgroup, opts, subgroupMinSize(ctx));
    const t = this.tiles;
    const HD4 = dims.hd / 4;
    if (t.kernel === 'tiled') {
      // The reduction snippet goes first: the subgroup one starts with `enable subgroups;`.
      const red = loadShader(t.sg ? 'flash_attention_tiled_red_subgroup' : 'flash_attention_tiled_red_shared');
      const prelude = `${red}\nconst HD4: u32 = ${HD4}u;\nconst BR: u32 = ${t.BR}u;\nconst BC: u32 = ${t.BC}u;\nconst TR: u32 = ${t.TR}u;\nconst TC: u32 = ${t.TC}u;\nconst PF: bool = ${t.pf};\n`;
      this.k = new ComputeKernel(ctx, 'flash_attention_tiled', 'main', {}, prelude);
    } else {
      const prelude = `const HD4: u32 = ${HD4}u;\nconst G: u32 = ${t.G}u;\nconst DPT4: u32 = ${HD4 / t.G}u;\nconst BR: u32 = ${t.BR}u;\nconst BC: u32 = ${t.BC}u;\n`;
      this.k = new ComputeKernel(ctx, 'flash_attention', 'main', {}, prelude);
    }
  }

  encode(pass: GPUComputePassEncoder, a: PrefillArgs): void {
    const r = resolvePrefill('flash attention', this.dims, a, true);
    const nqb = Math.ceil(r.L / this.tiles.BR);
    // The tiled kernel computes exp2(s - m) with log2(e) folded into the scale.
    const scale = (this.tiles.kernel === 'tiled' ? Math.LOG2E : 1) / Math.sqrt(r.hd);
    this.k.dispatch(
      pass,
      packUniforms([
        ['u32', r.L], ['u32', r.pos0], ['u32', r.maxLen], ['u32', r.H], ['f32', scale],
        ['u32', r.q.offset / 4], ['u32', r.q.rowStride / 4], ['u32', r.q.headStride / 4],
        ['u32', r.out.offset / 4], ['u32', r.out.rowStride / 4], ['u32', nqb],
      ]),
      [a.q, a.kCache, a.vCache, a.out],
      [nqb, r.H],
    );
  }
}
