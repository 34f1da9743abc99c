/**
 * Flash attention planning (no GPU objects): which kernel and tiling a head dim gets under an adapter's limits, and
 * what each tiling needs. src/kernels/attention_flash.ts builds and records the kernels from these plans.
 *
 * 'tiled' (shaders/flash_attention_tiled.wgsl, the default where it fits): register-tiled like a matmul. A workgroup
 *   takes BR queries of one head and walks key blocks of BC keys; thread (ty, tx) of a (BR/4) x (BC/4) grid owns a
 *   4 x 4 tile of the score block and a 4 x (hd / (BC/4)) tile of the output. Q^T, K^T (then P^T) and V are staged
 *   in workgroup memory: 4 * (hd*BR + max(hd*BC, BC*BR) + BC*hd) bytes, plus 4 * BR*BC/4 for the row reductions
 *   unless they use subgroup shuffles (sg) or live in the V tile before V is staged (redInV, one more barrier).
 * 'rowwise' (shaders/flash_attention.wgsl, the fallback): G threads per query row hold q and the output row in
 *   registers; fits the 16 KiB WebGPU default for every head dim up to 256 (see rowwiseTiles).
 *
 * Default choice (flashPlan): the first tiling of LARGE_PREFERENCE whose BC/4 divides HD4 (else the first one that
 * fits at all, with idle output accumulators for the dims past HD4) and that fits the device's
 * maxComputeWorkgroupStorageSize (or opts.maxWorkgroupStorage) and maxComputeInvocationsPerWorkgroup with >= 64
 * threads, plus, for calls whose grid would have fewer than SMALL_GRID workgroups, the first of SMALL_PREFERENCE with
 * a smaller BR (more workgroups for short prompts) unless the large entry is marked allLengths; 'rowwise' when no
 * tiling fits. Measured on an H200 (hd 64, 12 heads, final run in docs/benchmarks.md): 64 x 64 with subgroup
 * reductions is the fastest tiling from 512 to 32k. hd 64 at 48 KiB with subgroups of >= 16 lanes -> 64 x 64 sg
 * (256 threads); without -> 64 x 64 with reductions in V; at 32 KiB -> 64 x 16 / 32 x 32; at 16 KiB -> rowwise.
 * Options force a kernel or one tiling (tests, bench candidates).
 */
import { LimitExceededError } from '../gpu/errors';

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
  /** Queries per workgroup (multiple of 4). */
  BR: number;
  /** Keys per block (multiple of 4; best when BC/4 divides ceil(hd/4), else some output accumulators idle). */
  BC: number;
  /** Row reductions with subgroup shuffles instead of workgroup memory. */
  sg: boolean;
  /** Row reduction slots in the V tile (before V is staged each block): no extra storage, one more barrier. */
  redInV: boolean;
  storage: number;
  threads: number;
}

export type FlashTiles = RowwiseTiles | TiledTiles;

export interface FlashOptions {
  /** Cap on workgroup storage (defaults to the device's maxComputeWorkgroupStorageSize). */
  maxWorkgroupStorage?: number;
  /** Force a kernel (default: tiled where some tiling fits, else rowwise). */
  kernel?: FlashKernel;
  /** Force one tiling (tests, bench candidates); must fit the limits. */
  BR?: number;
  BC?: number;
  /** Tiled kernel: row reductions with subgroup shuffles (default false); throws when the device cannot. */
  subgroups?: boolean;
  /** Tiled kernel: reduction slots in the V tile (default false). */
  redInV?: boolean;
}

/** Vec4s per head row: the head dim rounded up to a multiple of 4, in vec4s. */
export function headVec4s(hd: number): number {
  if (!Number.isInteger(hd) || hd < 1) throw new Error(`flash attention: head dim ${hd} must be a positive integer`);
  return Math.ceil(hd / 4);
}

/** Threads per query row of the rowwise kernel: the smallest power of two G with ceil(HD4 / G) <= 8 vec4s per
 * thread (each thread's share of q and of the output row stays in registers). */
export function rowwiseThreadsPerRow(hd: number): number {
  const HD4 = headVec4s(hd);
  let G = 1;
  while (Math.ceil(HD4 / G) > 8) G *= 2;
  return G;
}

/** Tiles of the rowwise kernel (the pre-register-tiling kernel, kept as the fallback). K/V rows in workgroup memory
 * are padded to HD4P = G * ceil(HD4 / G) vec4s. */
export function rowwiseTiles(hd: number, maxStorage: number, maxInvocations: number, opts: FlashOptions = {}): RowwiseTiles {
  const HD4 = headVec4s(hd);
  const G = rowwiseThreadsPerRow(hd);
  const HD4P = G * Math.ceil(HD4 / G);
  let BR = opts.BR ?? Math.min(64, Math.floor(maxInvocations / G));
  if (!Number.isInteger(BR) || BR < 1) throw new Error(`flash attention: BR = ${BR} must be a positive integer (head dim ${hd} needs ${G} threads per row)`);
  if (BR * G > maxInvocations) throw new Error(`flash attention: BR ${BR} x G ${G} exceeds maxComputeInvocationsPerWorkgroup ${maxInvocations}`);
  const perKey = 2 * HD4P * 16 + BR * G * 4;
  let BC = opts.BC ?? Math.min(64, Math.floor(maxStorage / perKey / 4) * 4);
  while (BC < 4 && !opts.BC && BR > 8) {
    BR /= 2;
    BC = Math.min(64, Math.floor(maxStorage / (2 * HD4P * 16 + BR * G * 4) / 4) * 4);
  }
  if (opts.BC !== undefined && (!Number.isInteger(BC) || BC < 1)) throw new Error(`flash attention: BC = ${BC} must be a positive integer`);
  const storage = BC * (2 * HD4P * 16 + BR * G * 4);
  if (BC < 1 || storage > maxStorage) {
    throw new LimitExceededError('maxComputeWorkgroupStorageSize', storage, maxStorage, `flash attention tiles for head dim ${hd}`);
  }
  return { kernel: 'rowwise', G, BR, BC, storage, threads: BR * G };
}

/** Workgroup storage of the tiled kernel, bytes (reduction slots only when they need their own space); the head dim
 * counts rounded up to a multiple of 4. */
export function tiledStorage(hd: number, BR: number, BC: number, ownReductionSlots = true): number {
  const HD = 4 * headVec4s(hd);
  return 4 * (HD * BR + Math.max(HD * BC, BC * BR) + BC * HD + (ownReductionSlots ? (BR * BC) / 4 : 0));
}

/** Where the tiled kernel keeps its row-reduction slots (NTX * BR floats): nowhere (subgroup shuffles), in the V
 * tile before V is staged, or in their own space. Mirrors RED_IN_V in shaders/flash_attention_tiled.wgsl. */
export function tiledReductionSlots(v: TiledVariant = {}): 'none' | 'v' | 'own' {
  if (v.sg) return 'none';
  if (v.redInV) return 'v';
  return 'own';
}

function storageOf(hd: number, BR: number, BC: number, v: TiledVariant): number {
  return tiledStorage(hd, BR, BC, tiledReductionSlots(v) === 'own');
}

/** Whether every output accumulator of tiling BC does real work: BC/4 divides ceil(hd/4). */
export function tiledExact(hd: number, BC: number): boolean {
  return headVec4s(hd) % (BC / 4) === 0;
}

export interface TiledVariant {
  sg?: boolean;
  redInV?: boolean;
}

/** Why tiling (BR, BC) with these variant flags cannot run the tiled kernel for head dim hd under these limits, or
 * null when it can. sgMinSize: the adapter's smallest subgroup size, 0 when subgroups are not available. */
export function tiledProblem(hd: number, BR: number, BC: number, maxStorage: number, maxInvocations: number, v: TiledVariant = {}, sgMinSize = 0): string | null {
  if (!Number.isInteger(hd) || hd < 1) return `head dim ${hd} must be a positive integer`;
  if (!Number.isInteger(BR) || BR < 4 || BR % 4 !== 0) return `BR = ${BR} must be a positive multiple of 4`;
  if (!Number.isInteger(BC) || BC < 4 || BC % 4 !== 0) return `BC = ${BC} must be a positive multiple of 4`;
  const ntx = BC / 4;
  const threads = (BR / 4) * ntx;
  if (threads > maxInvocations) return `${threads} threads exceed maxComputeInvocationsPerWorkgroup ${maxInvocations}`;
  if (v.sg && v.redInV) return 'subgroups and redInV are alternatives';
  if (v.sg) {
    if (sgMinSize < 1) return 'subgroups are not available';
    if ((ntx & (ntx - 1)) !== 0) return `BC/4 = ${ntx} must be a power of two for subgroup reductions`;
    if (ntx > sgMinSize) return `BC/4 = ${ntx} exceeds the smallest subgroup size ${sgMinSize}`;
  }
  const vFloats = BC * 4 * headVec4s(hd);
  if (v.redInV && vFloats < ntx * BR) return `redInV needs the V tile (${vFloats} floats) to hold ${ntx * BR} reduction floats`;
  const storage = storageOf(hd, BR, BC, v);
  if (storage > maxStorage) return `${storage} bytes of workgroup storage exceed ${maxStorage}`;
  return null;
}

/** A default tiling: BR x BC plus variant flags (options given to FlashAttention override the flags). */
export interface TiledChoice {
  BR: number;
  BC: number;
  redInV?: boolean;
  subgroups?: boolean;
  /** Also used for short prompts (no SMALL_PREFERENCE tiling): measured faster than them at 512 and 2k too. */
  allLengths?: boolean;
}

/** Default tilings, in order of preference, for long prompts (the first that fits wins). Final H200 run
 * (docs/benchmarks.md): 64 x 64 with subgroup row reductions 4456 us at 8k / 68.1 ms at 32k, 64 x 64 with the
 * reductions in the V tile 4617 us / 70.8 ms, 96 x 32 5795 us / 80.6 ms; both 64 x 64 tilings also beat 64 x 32 at 512
 * and 2k. */
export const LARGE_PREFERENCE: readonly TiledChoice[] = [
  { BR: 64, BC: 64, subgroups: true, allLengths: true }, { BR: 64, BC: 64, redInV: true, allLengths: true },
  { BR: 96, BC: 32 }, { BR: 128, BC: 16 }, { BR: 64, BC: 32 }, { BR: 32, BC: 64 }, { BR: 64, BC: 16 }, { BR: 32, BC: 32 },
];
/** Tilings for calls whose grid with the large tiling would have fewer than SMALL_GRID workgroups. */
export const SMALL_PREFERENCE: readonly TiledChoice[] = [
  { BR: 64, BC: 32 }, { BR: 32, BC: 64 }, { BR: 64, BC: 16 }, { BR: 32, BC: 32 }, { BR: 32, BC: 16 },
];
export const SMALL_GRID = 512;

function tiled(hd: number, BR: number, BC: number, opts: FlashOptions): TiledTiles {
  const sg = opts.subgroups ?? false;
  const redInV = opts.redInV ?? false;
  return {
    kernel: 'tiled', BR, BC, sg, redInV,
    storage: storageOf(hd, BR, BC, { sg, redInV }), threads: (BR / 4) * (BC / 4),
  };
}

/** A preference entry with the caller's explicit variant options on top. */
function withOpts(c: TiledChoice, opts: FlashOptions): FlashOptions {
  return {
    subgroups: opts.subgroups ?? c.subgroups,
    redInV: opts.redInV ?? c.redInV,
  };
}

export interface FlashPlan {
  /** Tiles for most calls. */
  large: FlashTiles;
  /** Tiles for calls whose grid with `large` has fewer than SMALL_GRID workgroups (absent: always `large`). */
  small?: TiledTiles;
}

/** The kernel(s) and tiles FlashAttention uses for this head dim and these limits (sgMinSize 0: no subgroups). */
export function flashPlan(hd: number, maxStorage: number, maxInvocations: number, opts: FlashOptions = {}, sgMinSize = 0): FlashPlan {
  if (opts.kernel === 'rowwise') return { large: rowwiseTiles(hd, maxStorage, maxInvocations, opts) };
  const variant = { sg: opts.subgroups, redInV: opts.redInV };
  if (opts.BR !== undefined || opts.BC !== undefined) {
    const BR = opts.BR ?? 64, BC = opts.BC ?? 32;
    const why = tiledProblem(hd, BR, BC, maxStorage, maxInvocations, variant, sgMinSize);
    if (why) {
      if (why.includes('workgroup storage')) {
        throw new LimitExceededError('maxComputeWorkgroupStorageSize', storageOf(hd, BR, BC, variant), maxStorage, `flash attention tiles BR=${BR} BC=${BC} for head dim ${hd}`);
      }
      throw new Error(`flash attention (tiled): ${why}`);
    }
    return { large: tiled(hd, BR, BC, opts) };
  }
  const fits = (c: TiledChoice) => {
    const o = withOpts(c, opts);
    return (c.BR / 4) * (c.BC / 4) >= 64 && !tiledProblem(hd, c.BR, c.BC, maxStorage, maxInvocations, { sg: o.subgroups, redInV: o.redInV }, sgMinSize);
  };
  // Tilings without idle output accumulators first (for hd 64 every entry is exact).
  const first = (list: readonly TiledChoice[], ok: (c: TiledChoice) => boolean) =>
    list.find((c) => ok(c) && tiledExact(hd, c.BC)) ?? list.find(ok);
  const large = first(LARGE_PREFERENCE, fits);
  if (!large) {
    if (opts.kernel === 'tiled') throw new Error(`flash attention: no tiled kernel tiling fits head dim ${hd} in ${maxStorage} bytes of workgroup storage`);
    return { large: rowwiseTiles(hd, maxStorage, maxInvocations, opts) };
  }
  const small = large.allLengths ? undefined : first(SMALL_PREFERENCE, (c) => c.BR < large.BR && fits(c));
  return {
    large: tiled(hd, large.BR, large.BC, withOpts(large, opts)),
    small: small && tiled(hd, small.BR, small.BC, withOpts(small, opts)),
  };
}

/** The tiles of flashPlan's large choice (what most calls use). */
export function flashTiles(hd: number, maxStorage: number, maxInvocations: number, opts: FlashOptions = {}, sgMinSize = 0): FlashTiles {
  return flashPlan(hd, maxStorage, maxInvocations, opts, sgMinSize).large;
}
