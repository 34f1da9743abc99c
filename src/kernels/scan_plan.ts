/**
 * Selective scan planning (no GPU objects): the chunk kernels' workgroup and tile sizes for a device, the chunk length
 * for a sequence, the unfused variant's segment length, flat grids. src/kernels/scan.ts records the kernels with
 * these sizes.
 */
import { LimitExceededError } from '../gpu/errors';

export interface ChunkTilingOptions {
  /** Threads (channels) per workgroup; default 128 (64 when workgroup memory is small). */
  workgroup?: number;
  /** Tokens per workgroup-memory tile; default 8 (fastest on an H100), halved until it fits. */
  tile?: number;
}

/** Sizes of the chunk kernels (selective_scan_chunk_state / _out) for state size N. */
export interface ChunkTiling {
  /** Channels per workgroup. */
  wg: number;
  /** Tokens per workgroup-memory tile. */
  tt: number;
  /** B elements (chunk_state) and B + C elements (chunk_out) each thread loads per tile. */
  bpt: number;
  bcpt: number;
  /** vec4s of state per channel: ceil(N / 4). */
  nv: number;
}

/**
 * Workgroup and tile of the chunk kernels: chunk_out stages, per tile of tt tokens, Δ, u and SiLU(z) per channel and
 * the B and C rows: tt·(3·wg·4 + 2·nv·16) bytes of workgroup memory; the tile is halved until that fits.
 */
export function chunkTiling(N: number, lim: { maxInvocations: number; maxWgStorage: number }, opts: ChunkTilingOptions = {}): ChunkTiling {
  const nv = Math.ceil(N / 4);
  const tileBytes = (wg: number, tt: number) => tt * (3 * wg * 4 + 2 * nv * 16);
  const wg = opts.workgroup ?? (lim.maxInvocations >= 128 && tileBytes(128, 8) <= lim.maxWgStorage ? 128 : 64);
  if (wg > lim.maxInvocations) throw new LimitExceededError('maxComputeInvocationsPerWorkgroup', wg, lim.maxInvocations, 'selective scan');
  let tt = opts.tile ?? 8;
  while (tt > 1 && tileBytes(wg, tt) > lim.maxWgStorage) tt >>= 1;
  if (tileBytes(wg, tt) > lim.maxWgStorage) {
    throw new LimitExceededError('maxComputeWorkgroupStorageSize', tileBytes(wg, tt), lim.maxWgStorage, 'selective scan tile');
  }
  return { wg, tt, nv, bpt: Math.ceil((tt * nv * 4) / wg), bcpt: Math.ceil((tt * 2 * nv * 4) / wg) };
}

/**
 * Chunk length of the fused (chunked) scan for L tokens of D channels: `fixed` when given, else about
 * `targetThreads` threads (chunks × channels; default 49152, the H200 chunk sweep: chunk 64 at L = 2048, 256 from
 * 8192 on for D = 1536, docs/scan-kernel-notes.md) in multiples of 16 between 32 and 256 (shorter chunks cost more
 * in passes 1 + 2 than they gain); never more chunks than the grid's y limit.
 */
export function chunkLength(L: number, D: number, maxGridDim: number, opts: { fixed?: number; targetThreads?: number } = {}): number {
  let chunk: number;
  if (opts.fixed) {
    chunk = opts.fixed;
  } else {
    const wantChunks = Math.max(1, Math.ceil((opts.targetThreads ?? 49152) / D));
    chunk = Math.min(256, Math.max(32, Math.ceil(Math.ceil(L / wantChunks) / 16) * 16));
  }
  return Math.max(chunk, Math.ceil(L / maxGridDim));
}

/** Tokens per segment of the unfused variant: each expanded array [Ls, D, N] stays within `capBytes`. */
export function unfusedSegmentLength(L: number, D: number, N: number, capBytes: number): number {
  return Math.max(1, Math.min(L, Math.floor(capBytes / (D * N * 4))));
}

/** Grid for a flat 1-D problem of `total` threads at 256 per workgroup, within the per-dimension limit. */
export function grid2d(total: number, maxDim: number): { gx: number; gy: number; stride: number } {
  const groups = Math.max(1, Math.ceil(total / 256));
  const gx = Math.min(groups, maxDim);
  const gy = Math.min(Math.ceil(groups / gx), maxDim);
  return { gx, gy, stride: gx * gy * 256 };
}
