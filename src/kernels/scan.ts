/**
 * Mamba v1 selective scan on the GPU (prefill), three selectable variants with identical inputs and outputs:
 *
 *  - 'fused' (default): by default the chunked three-pass form, parallel over (chunk, channel): pass 1
 *    (selective_scan_chunk_state) runs every chunk
 *    but the last from zero state and writes only its end state [D, N] and ΣΔ [D]; pass 2 (selective_scan_chunk_combine)
 *    walks the chunks per (d, n) to get each chunk's incoming state (decay = exp(A·ΣΔ)); pass 3
 *    (selective_scan_chunk_out) re-runs each chunk from its incoming state with the fused readout, D skip and SiLU(z)
 *    gate, and the last chunk writes h_L. The expanded [L, D, N] state never touches global memory. With one chunk
 *    (tiny L) only pass 3 runs. Short L (≤ options.localMaxL; opt-in, measured slower on the H200) can run the three steps in ONE dispatch
 *    (selective_scan_chunk_local): a workgroup owns a few channels and all their chunks, and the combine is a scan
 *    over the chunks in workgroup memory (no chunk states in global memory, no dependent dispatches). With options.fused = 'onepass' (devices with subgroups) the one-pass kernel
 *    (selective_scan_onepass) instead: each workgroup walks the sequence in chunks for a few channels, one subgroup
 *    per channel scanning each chunk in parallel over time and state, every exponential computed once. Both forms
 *    give the same result (tests check both).
 *  - 'sequential': pass 3 alone with one chunk = the whole sequence (one thread per channel walks all L tokens).
 *  - 'unfused': the textbook baseline: discretize (writes dA = exp(Δ·A) and dBu = Δ·B·u, [Ls, D, N] each, to global
 *    memory), scan over the expanded arrays (writes the states), readout + D skip + gate. Processed in segments of Ls
 *    tokens so each expanded array fits a binding (the state is carried between segments).
 *
 * Inputs (f32; every [L, X] input is a strided view: element (t, i) at offset + t·rowStride + i, in elements):
 *   u [L, D]       conv1d+SiLU output                         (rowStride defaults to D)
 *   delta [L, D]   dt_proj output WITHOUT its bias            (rowStride defaults to D)
 *   B, C [L, N]    columns of the x_proj output [L, R+2N] at offsets R and R+N, rowStride R+2N; B and C must be views
 *                  of the same buffer with the same rowStride
 *   z [L, D]       optional gate, e.g. in_proj output at offset D with rowStride 2D
 *   params         packed SSM weights [A (D·N) | Dskip (D) | deltaBias (D)] (see ./ssm_params.ts)
 *   h0 [D, N]      optional initial state (zeros when absent); may be the same buffer as hFinal (in-place update)
 * Outputs:
 *   y [L, D]       strided view (rowStride defaults to D); must not share a buffer with any input
 *   hFinal [D, N]  final state h_L (for decode); optional: without it an internal buffer receives it (finalState).
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import { LimitExceededError } from '../gpu/errors';
import { ssmParamsLength } from './ssm_params';

export type ScanVariant = 'fused' | 'unfused' | 'sequential';
/**
 * Which implementation 'fused' uses: 'chunked' (default: the three passes, no subgroups needed) or 'onepass' (the
 * subgroup kernel; throws where the device cannot run it). The default follows the H200 measurements in
 * docs/scan-kernel-notes.md.
 */
export type FusedImpl = 'chunked' | 'onepass';

/** Tuning of the one-pass kernel (see shaders/selective_scan_onepass.wgsl); every field has a default. */
export interface OnePassConfig {
  /** Channels per workgroup (one subgroup each); default 8. */
  wc?: number;
  /** Tokens per lane per chunk; default 16 (the chunk is S · subgroupSize / Q tokens). */
  s?: number;
  /** vec4s of state per lane (Q = N / (4·sv) lanes share a channel's state); default 1, raised until Q fits the
   *  smallest subgroup size. */
  sv?: number;
  /** Keep exp(Δ·A) in registers between the two walks (else recompute it); default true. */
  storeA?: boolean;
  /** Sum y over the Q state lanes with a transposing butterfly (each lane ends with S/Q items) instead of a full
   *  xor-reduction per item; used only when S is a multiple of Q. Default false. */
  ybf?: boolean;
  /** Tests only: take the in-kernel sequential fallback. */
  forceSlow?: boolean;
  /** Tests only: the in-kernel fallback poisons h_L with 1e30 (proves the subgroup path ran). */
  assertFast?: boolean;
}

/** Resolved one-pass plan: the kernel's consts and the workgroup size. */
export interface OnePassPlan {
  wc: number; s: number; sv: number; q: number; nv4: number; sgMax: number; tcMax: number; wgs: number;
  storeA: boolean; ybf: boolean; forceSlow: boolean; assertFast: boolean; pf1: number; pf2: number; smemBytes: number;
}
export const SCAN_VARIANTS: readonly ScanVariant[] = ['fused', 'unfused', 'sequential'];

/** A strided view of a token-major matrix in a buffer (element units). */
export interface StridedView {
  buffer: GPUBuffer;
  offset?: number;
  rowStride?: number;
}

export interface ScanIO {
  L: number;
  u: StridedView;
  delta: StridedView;
  B: StridedView;
  C: StridedView;
  z?: StridedView | null;
  params: GPUBuffer;
  y: StridedView;
  h0?: GPUBuffer | null;
  hFinal?: GPUBuffer | null;
}

export interface ScanOptions {
  D: number;
  N: number;
  variant?: ScanVariant;
  /** Fixed chunk length for 'fused' (default: chosen from L and D, see chunkFor()); a fixed chunk also turns the
   *  one-dispatch short-L path off (the three passes run). */
  chunk?: number;
  /** Chunked 'fused' runs as one dispatch (selective_scan_chunk_local) when L ≤ localMaxL and the three-pass form
   *  would have more than one chunk; default 0 = always the three passes (opt-in: measured slower on the H200, 38.1 vs
   *  32.9 us at L=512, 120 vs 68 us at 2k, and 3-10x slower on SwiftShader). See planLocal(). */
  localMaxL?: number;
  /** One-dispatch short-L path: aim for about this many threads (chunks × channels); default 49152. */
  localThreads?: number;
  /** One-dispatch short-L path: channels per workgroup (default 8: 32-byte rows per chunk in the loads). */
  localChannels?: number;
  /** One-dispatch short-L path: largest tile (tokens staged per step), a power of 2; default 4, halved to fit. */
  localTile?: number;
  /** Chunked 'fused' aims for about this many threads (chunks × channels); default 49152 (H200 chunk sweep: chunk 64
   *  at L = 2048, 256 from 8192 on for D = 1536; see docs/scan-kernel-notes.md). */
  targetThreads?: number;
  /** Threads (channels) per workgroup for the chunk kernels; default 128 (64 when workgroup memory is small). */
  workgroup?: number;
  /** Tokens per workgroup-memory tile in the chunk kernels; default 8 (fastest on an H100), halved until it fits. */
  tile?: number;
  /** Cap on each of the unfused variant's expanded arrays, in bytes; default 64 MiB (also ≤ the binding limit). */
  unfusedMaxBytes?: number;
  /** Implementation of 'fused' (default 'chunked'); 'onepass' throws when the device cannot run it. */
  fused?: FusedImpl;
  /** One-pass kernel tuning. */
  onepass?: OnePassConfig;
  /**
   * Bench only, results are WRONG when set: 'noexp' replaces every exp(Δ·A) by 1 + x/1024 (what the exponentials
   * cost), 'stream' drops the recurrence and keeps loads, staging and stores (what moving the data costs).
   */
  benchMode?: 'normal' | 'noexp' | 'stream';
}

/** The dispatches of one scan call, for per-pass timing (bench): 'all' or one of them. */
export type ScanStage = 'all' | 'state' | 'combine' | 'out' | 'onepass' | 'local';
const BENCH_MODES = { normal: 0, noexp: 1, stream: 2 } as const;

/** Default of ScanOptions.localMaxL (0: off). The one-dispatch path was slower than the three passes on the H200 at
 * L = 512 and 2048 (final run, docs/benchmarks.md), so it is opt-in; 1024 is the length it was designed for. */
export const LOCAL_MAX_L_DEFAULT = 0;
export const LOCAL_MAX_L_DESIGN = 1024;

const nextPow2 = (x: number) => 2 ** Math.ceil(Math.log2(Math.max(1, x)));

/**
 * Sizes the one-pass kernel for a device: subgroup size range from the adapter (SGMAX bounds the chunk and the
 * workgroup = WC·SGMAX), S halved and then WC halved until the workgroup memory and invocation limits are met.
 * Returns the reason as a string when the device cannot run it.
 */
export function planOnePass(N: number, cfg: OnePassConfig, dev: { hasSubgroups: boolean; sgMin: number; sgMax: number; maxInvocations: number; maxWgStorage: number }): OnePassPlan | string {
  if (!dev.hasSubgroups) return 'no subgroups feature';
  let sv = cfg.sv ?? 1;
  if (![1, 2, 4, 8, 16].includes(sv)) return `sv = ${sv} must be 1, 2, 4, 8 or 16`;
  const nv = Math.ceil(N / 4);
  // Adapters that do not report a range: assume up to 64 (larger subgroups take the in-kernel sequential path).
  const sgMax = dev.sgMax > 0 ? dev.sgMax : 64;
  const sgMin = dev.sgMin > 0 ? Math.min(dev.sgMin, sgMax) : 4;
  // Q state lanes per channel must fit the smallest subgroup: more vec4s per lane when they do not.
  while (sv < 16 && nextPow2(Math.ceil(nv / sv)) > sgMin) sv *= 2;
  const q = nextPow2(Math.ceil(nv / sv));
  const nv4 = q * sv;
  if (q > sgMax) return `${q} state lanes per channel exceed the largest subgroup (${sgMax})`;
  const storeA = cfg.storeA ?? true;
  let s = cfg.s ?? 16;
  let wc = cfg.wc ?? 8;
  if (!Number.isInteger(s) || s < 1 || !Number.isInteger(wc) || wc < 1) return `s = ${s} and wc = ${wc} must be positive integers`;
  const bytes = (wc: number, s: number) => {
    const tc = (sgMax / q) * s;
    return 5 * wc * (tc + 1) * 4 + 2 * tc * nv4 * 16 + 2 * wc * 4 + 16;
  };
  while (wc > 1 && wc * sgMax > dev.maxInvocations) wc >>= 1;
  if (wc * sgMax > dev.maxInvocations) return `workgroup of ${sgMax} invocations exceeds ${dev.maxInvocations}`;
  while (s > 1 && bytes(wc, s) > dev.maxWgStorage) s >>= 1;
  while (wc > 1 && bytes(wc, s) > dev.maxWgStorage) wc >>= 1;
  if (bytes(wc, s) > dev.maxWgStorage) return `needs ${bytes(wc, s)} bytes of workgroup memory, device has ${dev.maxWgStorage}`;
  const tcMax = (sgMax / q) * s;
  const wgs = wc * sgMax;
  return {
    wc, s, sv, q, nv4, sgMax, tcMax, wgs, storeA, ybf: (cfg.ybf ?? false) && s % q === 0,
    forceSlow: cfg.forceSlow ?? false, assertFast: cfg.assertFast ?? false,
    pf1: Math.ceil((tcMax * wc) / wgs), pf2: Math.ceil((tcMax * 2 * nv4) / wgs), smemBytes: bytes(wc, s),
  };
}

function onePassConsts(N: number, p: OnePassPlan, mode: number): Record<string, number | boolean> {
  return {
    NS: N, SV: p.sv, Q: p.q, NV4: p.nv4, S: p.s, WC: p.wc, WGS: p.wgs, SGMAX: p.sgMax, TCMAX: p.tcMax,
    SA: p.storeA ? p.s : 1, STORE_A: p.storeA, YBF: p.ybf, SY: p.ybf ? p.s : 1, LOGQ: Math.log2(p.q),
    FORCE_SLOW: p.forceSlow, ASSERT_FAST: p.assertFast, PF1: p.pf1, PF2: p.pf2, MODE: mode,
  };
}

/** Plan of the one-dispatch short-L path (selective_scan_chunk_local) for one L. */
export interface LocalPlan {
  /** Tokens per chunk, chunks, chunks per workgroup (power of 2 ≥ nc), channels per workgroup, tokens per tile. */
  chunk: number; nc: number; nch: number; cw: number; tt: number;
  /** Invocations per workgroup (cw·nch), B elements per thread per tile, vec4s and bytes of workgroup memory. */
  wgs: number; bpt: number; smv: number; smemBytes: number;
}

/**
 * Sizes the one-dispatch short-L kernel: about `threads` threads (chunks × channels) as for the three passes, all
 * chunks of a channel in one workgroup of cw·nch ≤ maxInvocations (nch ≤ 64, a power of 2), tile halved until the
 * workgroup memory fits. Returns the reason as a string when it cannot run (then the three passes do).
 */
export function planLocal(L: number, D: number, N: number, o: { threads?: number; cw?: number; tile?: number }, lim: { maxInvocations: number; maxWgStorage: number }): LocalPlan | string {
  const nv = Math.ceil(N / 4);
  const cw = o.cw ?? 8;
  if (!Number.isInteger(cw) || cw < 1) return `localChannels = ${cw} must be a positive integer`;
  const tileMax = o.tile ?? 4;
  if (![1, 2, 4, 8, 16].includes(tileMax)) return `localTile = ${tileMax} must be 1, 2, 4, 8 or 16`;
  let nchMax = 1;
  while (nchMax < 64 && 2 * nchMax * cw <= lim.maxInvocations) nchMax *= 2;
  if (nchMax < 2) return `${cw} channels × 2 chunks exceed ${lim.maxInvocations} invocations per workgroup`;
  const want = Math.max(2, Math.ceil((o.threads ?? 49152) / D));
  const smvFor = (tt: number, nch: number) => Math.max(tt * nch * 2 * nv, nch * cw * nv);
  const bytes = (tt: number, nch: number) => 16 * smvFor(tt, nch) + 4 * cw * nch;
  // Fewer, longer chunks when the scan's states (nch·cw·N floats) do not fit the workgroup memory (large N).
  let nchTarget = Math.min(nchMax, nextPow2(want));
  while (nchTarget > 2 && bytes(1, nchTarget) > lim.maxWgStorage) nchTarget >>= 1;
  const chunk = Math.ceil(L / nchTarget);
  const nc = Math.ceil(L / chunk);
  if (nc < 2) return `L = ${L}: one chunk`;
  const nch = nextPow2(nc);
  let tt = Math.min(tileMax, nextPow2(chunk));
  while (tt > 1 && bytes(tt, nch) > lim.maxWgStorage) tt >>= 1;
  if (bytes(tt, nch) > lim.maxWgStorage) return `needs ${bytes(tt, nch)} bytes of workgroup memory, device has ${lim.maxWgStorage}`;
  const wgs = cw * nch;
  return { chunk, nc, nch, cw, tt, wgs, bpt: Math.ceil((tt * nch * nv * 4) / wgs), smv: smvFor(tt, nch), smemBytes: bytes(tt, nch) };
}

interface Resolved {
  L: number;
  uOff: number; uStride: number;
  dOff: number; dStride: number;
  zOff: number; zStride: number; z: GPUBuffer | null;
  bOff: number; cOff: number; bcStride: number; bc: GPUBuffer;
  yOff: number; yStride: number;
}

/** Grid for a flat 1-D problem of `total` threads at 256 per workgroup, within the per-dimension limit. */
export function grid2d(total: number, maxDim: number): { gx: number; gy: number; stride: number } {
  const groups = Math.max(1, Math.ceil(total / 256));
  const gx = Math.min(groups, maxDim);
  const gy = Math.min(Math.ceil(groups / gx), maxDim);
  return { gx, gy, stride: gx * gy * 256 };
}

/** Checks that a strided [rows, width] view fits its buffer; returns [offset, rowStride]. */
export function checkView(what: string, v: StridedView, rows: number, width: number, defaultStride: number): [number, number] {
  const off = v.offset ?? 0;
  const stride = v.rowStride ?? defaultStride;
  if (!Number.isInteger(off) || off < 0) throw new Error(`${what}: offset ${off} must be a non-negative integer (elements)`);
  if (!Number.isInteger(stride) || stride < width) throw new Error(`${what}: rowStride ${stride} must be an integer ≥ width ${width}`);
  const need = off + (rows - 1) * stride + width;
  if (need * 4 > v.buffer.size) {
    throw new Error(`${what}: view [${rows}, ${width}] at offset ${off}, rowStride ${stride} needs ${need * 4} bytes; buffer has ${v.buffer.size}`);
  }
  return [off, stride];
}

export class SelectiveScan {
  readonly D: number;
  readonly N: number;
  variant: ScanVariant;
  private readonly opts: ScanOptions;
  /** Channels per workgroup and tokens per workgroup-memory tile of the chunk kernels. */
  readonly wg: number;
  readonly tt: number;
  /** Consts of the chunk kernels (state size, tile, workgroup, prefetch registers). */
  private readonly consts: Record<string, number>;
  /** The one-pass plan when 'fused' runs as one pass on this device, else why not. */
  readonly onePass: OnePassPlan | string;
  private readonly onePassConsts: Record<string, number | boolean>;
  private readonly kernels = new Map<string, ComputeKernel>();
  private readonly mode: number;
  private stage: ScanStage = 'all';
  private readonly dummy: GPUBuffer;
  private readonly scratch = new Map<string, GPUBuffer>();
  private retired: GPUBuffer[] = [];

  constructor(private readonly ctx: GpuContext, opts: ScanOptions) {
    const { D, N } = opts;
    if (!Number.isInteger(D) || D < 1) throw new Error(`SelectiveScan: D = ${D} must be a positive integer`);
    if (!Number.isInteger(N) || N < 1 || N > 64) throw new Error(`SelectiveScan: N = ${N} must be an integer in [1, 64]`);
    this.D = D;
    this.N = N;
    this.opts = opts;
    this.variant = opts.variant ?? 'fused';
    const nv = Math.ceil(N / 4);
    const lim = ctx.limits;
    // Workgroup memory of selective_scan_chunk_out per tile of tt tokens: Δ, u, SiLU(z) per channel + B, C rows.
    const tileBytes = (wg: number, tt: number) => tt * (3 * wg * 4 + 2 * nv * 16);
    let wg = opts.workgroup ?? (lim.maxComputeInvocationsPerWorkgroup >= 128 && tileBytes(128, 8) <= lim.maxComputeWorkgroupStorageSize ? 128 : 64);
    if (wg > lim.maxComputeInvocationsPerWorkgroup) {
      throw new LimitExceededError('maxComputeInvocationsPerWorkgroup', wg, lim.maxComputeInvocationsPerWorkgroup, 'selective scan');
    }
    let tt = opts.tile ?? 8;
    while (tt > 1 && tileBytes(wg, tt) > lim.maxComputeWorkgroupStorageSize) tt >>= 1;
    if (tileBytes(wg, tt) > lim.maxComputeWorkgroupStorageSize) {
      throw new LimitExceededError('maxComputeWorkgroupStorageSize', tileBytes(wg, tt), lim.maxComputeWorkgroupStorageSize, 'selective scan tile');
    }
    this.wg = wg;
    this.tt = tt;
    // Per-thread B (and C) elements of a tile in the chunk kernels' prefetch registers.
    const bpt = Math.ceil((tt * nv * 4) / wg);
    const bcpt = Math.ceil((tt * 2 * nv * 4) / wg);
    this.consts = { NS: N, NV: nv, TT: tt, WG: wg, BPT: bpt, BCPT: bcpt };
    this.mode = BENCH_MODES[opts.benchMode ?? 'normal'];
    const impl = opts.fused ?? 'chunked';
    const info = ctx.acquired.adapterInfo;
    this.onePass = impl === 'chunked' ? 'options.fused = chunked' : planOnePass(N, opts.onepass ?? {}, {
      hasSubgroups: ctx.has('subgroups'),
      sgMin: info.subgroupMinSize,
      sgMax: info.subgroupMaxSize,
      maxInvocations: lim.maxComputeInvocationsPerWorkgroup,
      maxWgStorage: lim.maxComputeWorkgroupStorageSize,
    });
    if (impl === 'onepass' && typeof this.onePass === 'string') throw new Error(`selective scan: one-pass kernel unavailable: ${this.onePass}`);
    this.onePassConsts = typeof this.onePass === 'string' ? {} : onePassConsts(N, this.onePass, this.mode);
    this.dummy = ctx.buffer(16, 'scratch', 'scan-dummy');
  }

  /** The implementation 'fused' runs on this device. */
  get fusedImpl(): 'onepass' | 'chunked' {
    return typeof this.onePass === 'string' ? 'chunked' : 'onepass';
  }

  /** The one-dispatch plan 'fused' (chunked) uses for L tokens, or why it runs the three passes instead. */
  localPlan(L: number): LocalPlan | string {
    const maxL = this.opts.localMaxL ?? LOCAL_MAX_L_DEFAULT;
    if (this.opts.chunk) return 'fixed chunk';
    if (L > maxL) return `L = ${L} > localMaxL = ${maxL}`;
    if (Math.ceil(L / this.chunkFor(L)) < 2) return `L = ${L}: one chunk`;
    const lim = this.ctx.limits;
    return planLocal(L, this.D, this.N, { threads: this.opts.localThreads, cw: this.opts.localChannels, tile: this.opts.localTile }, {
      maxInvocations: lim.maxComputeInvocationsPerWorkgroup, maxWgStorage: lim.maxComputeWorkgroupStorageSize,
    });
  }

  /** Chunk length the fused variant uses for a sequence of L tokens. */
  chunkFor(L: number): number {
    let chunk: number;
    if (this.opts.chunk) {
      chunk = this.opts.chunk;
    } else {
      const target = this.opts.targetThreads ?? 49152;
      const wantChunks = Math.max(1, Math.ceil(target / this.D));
      // Multiples of 16 between 32 and 256; chunks shorter than 32 tokens cost more in pass 1 + 2 than they gain.
      chunk = Math.min(256, Math.max(32, Math.ceil(Math.ceil(L / wantChunks) / 16) * 16));
    }
    // Grid y (chunks) must stay within the dispatch limit.
    return Math.max(chunk, Math.ceil(L / this.ctx.limits.maxComputeWorkgroupsPerDimension));
  }

  /** The internal final-state buffer used when encode() gets no hFinal ([D, N]). */
  get finalState(): GPUBuffer {
    return this.scratchBuf('hfinal', this.D * this.N, 'ssm-state');
  }

  private kernel(shader: string, usesConsts: boolean, local?: LocalPlan): ComputeKernel {
    const key = local ? `${shader}:${local.cw}:${local.nch}:${local.tt}` : shader;
    let k = this.kernels.get(key);
    if (!k) {
      const constants: Record<string, number> = this.mode ? { MODE: this.mode } : {};
      if (local) {
        const consts = {
          NS: this.N, NV: Math.ceil(this.N / 4), CW: local.cw, NCH: local.nch, TT: local.tt, WGS: local.wgs,
          BPT: local.bpt, BCPT: 2 * local.bpt, SMV: local.smv,
        };
        k = new ComputeKernel(this.ctx, shader, { constants, consts });
      } else if (shader === 'selective_scan_onepass') k = new ComputeKernel(this.ctx, shader, { consts: this.onePassConsts });
      else if (!usesConsts) k = new ComputeKernel(this.ctx, shader);
      else k = new ComputeKernel(this.ctx, shader, { constants, consts: this.consts });
      this.kernels.set(key, k);
    }
    return k;
  }

  private scratchBuf(name: string, floats: number, category: 'scratch' | 'ssm-state' = 'scratch'): GPUBuffer {
    const bytes = Math.max(16, floats * 4);
    let b = this.scratch.get(name);
    if (!b || b.size < bytes) {
      // A smaller buffer may still be referenced by encoded work: keep it alive until destroy().
      if (b) this.retired.push(b);
      b = this.ctx.buffer(bytes, category, `scan-${name}`);
      this.scratch.set(name, b);
    }
    return b;
  }

  private resolve(io: ScanIO): Resolved {
    const { D, N } = this;
    const L = io.L;
    if (!Number.isInteger(L) || L < 1) throw new Error(`selective scan: L = ${L} must be a positive integer`);
    const [uOff, uStride] = checkView('selective scan u', io.u, L, D, D);
    const [dOff, dStride] = checkView('selective scan delta', io.delta, L, D, D);
    const [bOff, bStride] = checkView('selective scan B', io.B, L, N, N);
    const [cOff, cStride] = checkView('selective scan C', io.C, L, N, N);
    if (io.B.buffer !== io.C.buffer) throw new Error('selective scan: B and C must be views of the same buffer (the x_proj output)');
    if (bStride !== cStride) throw new Error(`selective scan: B and C rowStride differ (${bStride} vs ${cStride})`);
    let zOff = 0;
    let zStride = D;
    if (io.z) [zOff, zStride] = checkView('selective scan z', io.z, L, D, D);
    const [yOff, yStride] = checkView('selective scan y', io.y, L, D, D);
    const inputs = [io.u.buffer, io.delta.buffer, io.B.buffer, io.z?.buffer, io.params, io.h0];
    if (inputs.includes(io.y.buffer)) throw new Error('selective scan: y must not share a buffer with an input');
    if (io.hFinal && [io.u.buffer, io.delta.buffer, io.B.buffer, io.z?.buffer, io.params, io.y.buffer].includes(io.hFinal)) {
      throw new Error('selective scan: hFinal must not share a buffer with an input or y (h0 is allowed)');
    }
    if (io.params.size < ssmParamsLength(D, N) * 4) {
      throw new Error(`selective scan: params has ${io.params.size} bytes, needs D·(N+2)·4 = ${ssmParamsLength(D, N) * 4}`);
    }
    for (const [b, what] of [[io.h0, 'h0'], [io.hFinal, 'hFinal']] as const) {
      if (b && b.size < D * N * 4) throw new Error(`selective scan: ${what} has ${b.size} bytes, needs D·N·4 = ${D * N * 4}`);
    }
    return {
      L, uOff, uStride, dOff, dStride, zOff, zStride, z: io.z?.buffer ?? null,
      bOff, cOff, bcStride: bStride, bc: io.B.buffer, yOff, yStride,
    };
  }

  /** Bench: records only one dispatch of the scan (see ScanStage); a stage the variant does not have records nothing. */
  encodeStage(pass: GPUComputePassEncoder, io: ScanIO, variant: ScanVariant, stage: ScanStage): void {
    this.stage = stage;
    try {
      this.encode(pass, io, variant);
    } finally {
      this.stage = 'all';
    }
  }

  /** The dispatches `variant` records for L tokens (bench: per-pass timing). */
  stagesFor(L: number, variant: ScanVariant = this.variant): ScanStage[] {
    if (variant === 'fused' && this.fusedImpl === 'onepass') return ['onepass'];
    if (variant === 'fused' && typeof this.localPlan(L) !== 'string') return ['local'];
    if (variant === 'fused' && Math.ceil(L / this.chunkFor(L)) > 1) return ['state', 'combine', 'out'];
    return ['out'];
  }

  private wants(stage: ScanStage): boolean {
    return this.stage === 'all' || this.stage === stage;
  }

  /** Records the scan into `pass` with the given (or the default) variant. */
  encode(pass: GPUComputePassEncoder, io: ScanIO, variant: ScanVariant = this.variant): void {
    const r = this.resolve(io);
    const hOut = io.hFinal ?? this.finalState;
    const h0 = io.h0 ?? null;
    if (variant === 'unfused') this.encodeUnfused(pass, io, r, h0, hOut);
    else if (variant === 'fused' && typeof this.onePass !== 'string') this.encodeOnePass(pass, io, r, h0, hOut, this.onePass);
    else if (variant === 'fused' && typeof this.localPlan(r.L) !== 'string') this.encodeLocal(pass, io, r, h0, hOut, this.localPlan(r.L) as LocalPlan);
    else if (variant === 'fused' || variant === 'sequential') this.encodeChunked(pass, io, r, h0, hOut, variant === 'sequential' ? r.L : this.chunkFor(r.L));
    else throw new Error(`selective scan: unknown variant '${variant as string}' (use ${SCAN_VARIANTS.join(' | ')})`);
  }

  private encodeChunked(pass: GPUComputePassEncoder, io: ScanIO, r: Resolved, h0: GPUBuffer | null, hOut: GPUBuffer, chunk: number): void {
    const { D, N } = this;
    const nc = Math.ceil(r.L / chunk);
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    if (nc > maxDim) throw new LimitExceededError('maxComputeWorkgroupsPerDimension', nc, maxDim, 'selective scan chunks');
    const gx = Math.ceil(D / this.wg);
    let hin: GPUBuffer;
    let initMode: number;
    if (nc > 1) {
      const states = this.scratchBuf('states', nc * D * N);
      const dsum = this.scratchBuf('dsum', (nc - 1) * D);
      if (this.wants('state')) this.kernel('selective_scan_chunk_state', true).dispatch(
        pass,
        {
          L: r.L, D, chunk, nChunks: nc, uOff: r.uOff, uStride: r.uStride, dOff: r.dOff, dStride: r.dStride,
          bOff: r.bOff, bcStride: r.bcStride,
        },
        [io.u.buffer, io.delta.buffer, r.bc, io.params, states, dsum],
        [gx, nc - 1],
      );
      if (this.wants('combine')) this.kernel('selective_scan_chunk_combine', false).dispatch(
        pass,
        { D, N, nChunks: nc, hasInit: h0 ? 1 : 0 },
        [io.params, dsum, h0 ?? this.dummy, states],
        [Math.ceil((D * N) / 256)],
      );
      hin = states;
      initMode = 1;
    } else if (!h0) {
      hin = this.dummy;
      initMode = 0;
    } else if (h0 === hOut) {
      hin = this.dummy;
      initMode = 2;
    } else {
      hin = h0;
      initMode = 1;
    }
    if (this.wants('out')) this.kernel('selective_scan_chunk_out', true).dispatch(
      pass,
      {
        L: r.L, D, chunk, nChunks: nc, uOff: r.uOff, uStride: r.uStride, dOff: r.dOff, dStride: r.dStride,
        zOff: r.zOff, zStride: r.zStride, bOff: r.bOff, cOff: r.cOff, bcStride: r.bcStride, yOff: r.yOff,
        yStride: r.yStride, flags: (r.z ? 1 : 0) | (initMode << 1),
      },
      [io.u.buffer, io.delta.buffer, r.z ?? this.dummy, r.bc, io.params, hin, io.y.buffer, hOut],
      [gx, nc],
    );
  }

  private encodeLocal(pass: GPUComputePassEncoder, io: ScanIO, r: Resolved, h0: GPUBuffer | null, hOut: GPUBuffer, plan: LocalPlan): void {
    const initMode = !h0 ? 0 : h0 === hOut ? 2 : 1;
    if (!this.wants('local')) return;
    this.kernel('selective_scan_chunk_local', true, plan).dispatch(
      pass,
      {
        L: r.L, D: this.D, chunk: plan.chunk, nChunks: plan.nc, uOff: r.uOff, uStride: r.uStride, dOff: r.dOff,
        dStride: r.dStride, zOff: r.zOff, zStride: r.zStride, bOff: r.bOff, cOff: r.cOff, bcStride: r.bcStride,
        yOff: r.yOff, yStride: r.yStride, flags: (r.z ? 1 : 0) | (initMode << 1),
      },
      [io.u.buffer, io.delta.buffer, r.z ?? this.dummy, r.bc, io.params, initMode === 1 && h0 ? h0 : this.dummy, io.y.buffer, hOut],
      [Math.ceil(this.D / plan.cw)],
    );
  }

  private encodeOnePass(pass: GPUComputePassEncoder, io: ScanIO, r: Resolved, h0: GPUBuffer | null, hOut: GPUBuffer, plan: OnePassPlan): void {
    const initMode = !h0 ? 0 : h0 === hOut ? 2 : 1;
    if (!this.wants('onepass')) return;
    this.kernel('selective_scan_onepass', true).dispatch(
      pass,
      {
        L: r.L, D: this.D, uOff: r.uOff, uStride: r.uStride, dOff: r.dOff, dStride: r.dStride, zOff: r.zOff,
        zStride: r.zStride, bOff: r.bOff, cOff: r.cOff, bcStride: r.bcStride, yOff: r.yOff, yStride: r.yStride,
        flags: (r.z ? 1 : 0) | (initMode << 1),
      },
      [io.u.buffer, io.delta.buffer, r.z ?? this.dummy, r.bc, io.params, initMode === 1 && h0 ? h0 : this.dummy, io.y.buffer, hOut],
      [Math.ceil(this.D / plan.wc)],
    );
  }

  /** Tokens per segment of the unfused variant (each expanded array [Ls, D, N] must fit one binding). */
  unfusedSegment(L: number): number {
    const cap = Math.min(this.opts.unfusedMaxBytes ?? 64 << 20, this.ctx.limits.maxStorageBufferBindingSize);
    return Math.max(1, Math.min(L, Math.floor(cap / (this.D * this.N * 4))));
  }

  private encodeUnfused(pass: GPUComputePassEncoder, io: ScanIO, r: Resolved, h0: GPUBuffer | null, hOut: GPUBuffer): void {
    const { D, N } = this;
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const Ls = this.unfusedSegment(r.L);
    const dA = this.scratchBuf('dA', Ls * D * N);
    const dBu = this.scratchBuf('dBu', Ls * D * N);
    const disc = this.kernel('selective_scan_unfused_discretize', false);
    const scan = this.kernel('selective_scan_unfused_scan', false);
    const readout = this.kernel('selective_scan_unfused_readout', false);
    for (let t0 = 0; t0 < r.L; t0 += Ls) {
      const ls = Math.min(Ls, r.L - t0);
      const g1 = grid2d(ls * D * N, maxDim);
      disc.dispatch(
        pass,
        {
          t0, Ls: ls, D, N, uOff: r.uOff, uStride: r.uStride, dOff: r.dOff, dStride: r.dStride, bOff: r.bOff,
          bcStride: r.bcStride, stride: g1.stride,
        },
        [io.u.buffer, io.delta.buffer, r.bc, io.params, dA, dBu],
        [g1.gx, g1.gy],
      );
      let initMode = 2; // later segments continue from hOut
      if (t0 === 0) initMode = !h0 ? 0 : h0 === hOut ? 2 : 1;
      scan.dispatch(
        pass,
        { Ls: ls, DN: D * N, initMode },
        [dA, dBu, initMode === 1 && h0 ? h0 : this.dummy, hOut],
        [Math.ceil((D * N) / 256)],
      );
      const g2 = grid2d(ls * D, maxDim);
      readout.dispatch(
        pass,
        {
          t0, Ls: ls, D, N, uOff: r.uOff, uStride: r.uStride, zOff: r.zOff, zStride: r.zStride, cOff: r.cOff,
          bcStride: r.bcStride, yOff: r.yOff, yStride: r.yStride, hasZ: r.z ? 1 : 0, stride: g2.stride,
        },
        [dBu, r.bc, io.u.buffer, r.z ?? this.dummy, io.params, io.y.buffer],
        [g2.gx, g2.gy],
      );
    }
  }

  /** Returns the scratch buffers to the pool. The wrapper must not be used afterwards. */
  destroy(): void {
    for (const b of this.scratch.values()) this.ctx.pool.release(b);
    for (const b of this.retired) this.ctx.pool.release(b);
    this.scratch.clear();
    this.retired = [];
    this.ctx.pool.release(this.dummy);
  }
}
