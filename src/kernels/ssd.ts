/**
 * Mamba-2's SSM layer (SSD, Dao & Gu 2024) on the GPU for a prefill of L tokens, two variants with the same inputs
 * and outputs:
 *  - 'fused' (default): the chunked SSD form in three passes over chunks of Q tokens:
 *      1. ssd_chunk_state: per (chunk, head) Δ, the chunk's cumulative log decay and its end state from zero (a
 *         (p × n) product over the chunk's tokens) plus the chunk's total decay;
 *      2. ssd_state_pass: per state element, the chunks in order: each chunk's incoming state, and h_L;
 *      3. ssd_chunk_out: per (tile of T tokens, head) the intra-chunk part (decayed, causally masked C·Bᵀ times x·Δ,
 *         tiled like flash attention), the part from the incoming state, and the D skip.
 *    Long sequences run in segments of whole chunks whose chunk states fit one binding (the state carried in hFinal).
 *  - 'sequential': the plain recurrence (ssd_sequential), one thread per channel walking all L tokens: the toggle's
 *    baseline ('unfused', Mamba-1's third variant, runs it too).
 * The gated norm that follows (y ⊙ SiLU(z), RMSNorm per group) is SsdGatedNorm (shaders/ssd_gated_norm.wgsl).
 *
 * Inputs (f32; token-major strided views: element (t, i) at offset + t·rowStride + i, in elements):
 *   x [L, H·P], B [L, G·N], C [L, G·N]  views of ONE buffer with one row stride (the conv output: x | B | C)
 *   dt [L, H]      raw Δ (in_proj's last columns), before dt_bias, softplus and the clamp to dtLimit
 *   params         per-head [A_log (H) | D (H) | dt_bias (H)] (packSsdParams)
 *   h0 [H, P, N]   optional initial state; may be the same buffer as hFinal (in place)
 * Outputs: y [L, H·P] strided view (must not share a buffer with an input); hFinal [H, P, N] (h_L; an internal
 * buffer when absent: finalState).
 * CPU oracles: src/reference/ssd.ts.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import { LimitExceededError } from '../gpu/errors';
import { checkView, grid2d, type StridedView } from './scan';

export type SsdVariant = 'fused' | 'sequential';
export const SSD_VARIANTS: readonly SsdVariant[] = ['fused', 'sequential'];

export interface SsdShape {
  /** heads h, head dim p, state size n, groups g of B/C (h % g == 0) */
  H: number; P: number; N: number; G: number;
}

export interface SsdOptions extends SsdShape {
  /** Chunk length Q of 'fused' (default: 64, lowered until the kernels' workgroup memory fits the adapter). */
  chunk?: number;
  /** Token tile T of ssd_chunk_out (T·T threads; default the largest of 16, 8, 4 that fits and divides Q). */
  tile?: number;
  /** Tokens staged per step in ssd_chunk_state (default 16, halved to fit). */
  stateTile?: number;
  /** Threads per workgroup of ssd_chunk_state (a power of two; default 256, 32 on a software adapter). */
  stateWorkgroup?: number;
  /** Cap on the chunk-state scratch [chunks, H, P, N] per segment, in bytes (default 128 MiB, ≤ the binding limit). */
  segmentBytes?: number;
  /** Channels per workgroup of 'sequential' (default 64) and its tokens per staged tile (default 8). */
  seqWorkgroup?: number;
  seqTile?: number;
}

export interface SsdIO {
  L: number;
  x: StridedView;
  B: StridedView;
  C: StridedView;
  dt: StridedView;
  params: GPUBuffer;
  /** time_step_limit: Δ clamped into [lo, hi] after softplus (default [0, ∞)). */
  dtLimit?: [number, number];
  y: StridedView;
  h0?: GPUBuffer | null;
  hFinal?: GPUBuffer | null;
}

/** The packed per-head parameters as the kernels read them: [A_log (H) | D (H) | dt_bias (H)]. */
export function packSsdParams(aLog: ArrayLike<number>, D: ArrayLike<number>, dtBias: ArrayLike<number>, H: number): Float32Array {
  for (const [name, a] of [['A_log', aLog], ['D', D], ['dt_bias', dtBias]] as const) {
    if (a.length !== H) throw new Error(`packSsdParams: ${name} has ${a.length} values, expected H = ${H}`);
  }
  const out = new Float32Array(3 * H);
  out.set(aLog, 0);
  out.set(D, H);
  out.set(dtBias, 2 * H);
  return out;
}

/** The same pack made on the GPU from the model's parameter buffers (three copies into `out`, 3·H floats). */
export function encodeSsdParams(encoder: GPUCommandEncoder, aLog: GPUBuffer, D: GPUBuffer, dtBias: GPUBuffer, H: number, out: GPUBuffer): void {
  if (out.size < 3 * H * 4) throw new Error(`encodeSsdParams: out holds ${out.size / 4} floats, needs 3·H = ${3 * H}`);
  for (const [i, b, name] of [[0, aLog, 'A_log'], [1, D, 'D'], [2, dtBias, 'dt_bias']] as const) {
    if (b.size < H * 4) throw new Error(`encodeSsdParams: ${name} holds ${b.size / 4} floats, needs H = ${H}`);
    encoder.copyBufferToBuffer(b, 0, out, i * H * 4, H * 4);
  }
}

/** f32 uniform for a limit: a very large finite value for +∞ (compilers may assume finite math). */
const f32Limit = (v: number) => (v === Infinity ? 3.0e38 : v);

export interface SsdPlan {
  /** chunk length, token tile of pass 3, staged tokens of pass 1, pass-1 workgroup */
  chunk: number; tile: number; stateTile: number; wg1: number;
  /** workgroup bytes of passes 1 and 3 */
  bytes1: number; bytes3: number;
}

const nextPow2 = (x: number) => 2 ** Math.ceil(Math.log2(Math.max(1, x)));

/**
 * Sizes the fused form for a device: the chunk, then the tiles, halved until the workgroup memory fits. On a software
 * adapter (`cpu`: SwiftShader runs every invocation of a workgroup in turn at each barrier) smaller workgroups are
 * preferred: token tile 4 and 32 threads in pass 1 (SwiftShader, 64 tokens, 8 heads × 16, N 16: 35 ms vs 218 ms with the
 * GPU defaults; the sequential form takes 12 ms there).
 */
export function planSsd(s: SsdShape, o: Pick<SsdOptions, 'chunk' | 'tile' | 'stateTile' | 'stateWorkgroup'>, lim: { maxInvocations: number; maxWgStorage: number; cpu?: boolean }): SsdPlan {
  const nv = Math.ceil(s.N / 4);
  const wg1 = Math.min(o.stateWorkgroup ?? (lim.cpu ? 32 : 256), lim.maxInvocations);
  if (wg1 & (wg1 - 1)) throw new Error(`ssd: stateWorkgroup = ${wg1} must be a power of two`);
  const bytes1 = (q: number, ts: number) => 8 * q + 4 * wg1 + ts * (16 * nv + 4 * s.P);
  const bytes3 = (q: number, t: number) => 8 * q + 4 * t * t + t * (32 * nv + 4 * s.P) + 4 * t * t;
  const tiles = (q: number) => (o.tile ? [o.tile] : lim.cpu ? [4, 2, 1] : [16, 8, 4, 2, 1]).filter((t) => q % t === 0 && t * t <= lim.maxInvocations);
  const fits = (q: number) => bytes1(q, 1) <= lim.maxWgStorage && tiles(q).some((t) => bytes3(q, t) <= lim.maxWgStorage);
  let chunk = o.chunk ?? 64;
  if (!(Number.isInteger(chunk) && chunk >= 1)) throw new Error(`ssd: chunk = ${chunk} must be a positive integer`);
  if (o.chunk === undefined) while (chunk > 4 && !fits(chunk)) chunk >>= 1;
  if (!fits(chunk)) {
    throw new LimitExceededError('maxComputeWorkgroupStorageSize', bytes3(chunk, 1), lim.maxWgStorage, `SSD chunk of ${chunk} tokens (N = ${s.N}, P = ${s.P})`);
  }
  const tile = tiles(chunk).find((t) => bytes3(chunk, t) <= lim.maxWgStorage)!;
  let stateTile = o.stateTile ?? 16;
  while (stateTile > 1 && bytes1(chunk, stateTile) > lim.maxWgStorage) stateTile >>= 1;
  return { chunk, tile, stateTile, wg1, bytes1: bytes1(chunk, stateTile), bytes3: bytes3(chunk, tile) };
}

interface Resolved {
  L: number;
  xOff: number; bOff: number; cOff: number; stride: number; xbc: GPUBuffer;
  dtOff: number; dtStride: number;
  yOff: number; yStride: number;
  lo: number; hi: number;
}

export class SsdScan {
  readonly H: number; readonly P: number; readonly N: number; readonly G: number;
  readonly plan: SsdPlan;
  private readonly kernels = new Map<string, ComputeKernel>();
  private readonly scratch = new Map<string, GPUBuffer>();
  private retired: GPUBuffer[] = [];
  private readonly dummy: GPUBuffer;
  private readonly seqWg: number;
  private readonly seqTile: number;

  constructor(private readonly ctx: GpuContext, private readonly opts: SsdOptions) {
    const { H, P, N, G } = opts;
    for (const [k, v] of [['H', H], ['P', P], ['N', N], ['G', G]] as const) {
      if (!(Number.isInteger(v) && v >= 1)) throw new Error(`SsdScan: ${k} = ${v} must be a positive integer`);
    }
    if (H % G) throw new Error(`SsdScan: H = ${H} heads do not split into G = ${G} groups`);
    if (N > 256) throw new Error(`SsdScan: N = ${N} > 256 is not supported (a channel's state lives in registers)`);
    this.H = H; this.P = P; this.N = N; this.G = G;
    const lim = ctx.limits;
    this.plan = planSsd(opts, opts, { maxInvocations: lim.maxComputeInvocationsPerWorkgroup, maxWgStorage: lim.maxComputeWorkgroupStorageSize, cpu: ctx.cpuTiling });
    const nv = Math.ceil(N / 4);
    this.seqWg = Math.min(opts.seqWorkgroup ?? 64, lim.maxComputeInvocationsPerWorkgroup, nextPow2((H / G) * P));
    let tt = opts.seqTile ?? 8;
    while (tt > 1 && 2 * tt * nv * 16 > lim.maxComputeWorkgroupStorageSize) tt >>= 1;
    this.seqTile = tt;
    this.dummy = ctx.buffer(16, 'scratch', 'ssd-dummy');
  }

  /** Chunk length of 'fused'. */
  get chunk(): number {
    return this.plan.chunk;
  }

  /** The internal final-state buffer used when encode() gets no hFinal ([H, P, N]). */
  get finalState(): GPUBuffer {
    return this.scratchBuf('hfinal', this.H * this.P * this.N, 'ssm-state');
  }

  /** Tokens per segment of 'fused' (whole chunks whose states [chunks, H, P, N] fit the scratch cap). */
  segmentLength(): number {
    const lim = this.ctx.limits;
    const cap = Math.min(this.opts.segmentBytes ?? 128 << 20, lim.maxStorageBufferBindingSize, lim.maxBufferSize);
    const hpn = this.H * this.P * this.N * 4;
    const maxChunks = Math.max(1, Math.floor(cap / hpn));
    const byGrid = Math.floor((lim.maxComputeWorkgroupsPerDimension * this.plan.tile) / this.plan.chunk);
    return Math.max(1, Math.min(maxChunks, byGrid)) * this.plan.chunk;
  }

  private consts(extra: Record<string, number>): Record<string, number> {
    return { NS: this.N, NV: Math.ceil(this.N / 4), PD: this.P, HEADS: this.H, HPG: this.H / this.G, ...extra };
  }

  private kernel(name: string): ComputeKernel {
    let k = this.kernels.get(name);
    if (k) return k;
    const { chunk: q, tile: t, stateTile: ts, wg1 } = this.plan;
    const nv = Math.ceil(this.N / 4);
    if (name === 'ssd_chunk_state') {
      k = new ComputeKernel(this.ctx, name, { consts: this.consts({ WG: wg1, TS: ts, QMAX: q, QPT: Math.ceil(q / wg1), OPT: Math.ceil((this.P * nv) / wg1) }) });
    } else if (name === 'ssd_chunk_out') {
      k = new ComputeKernel(this.ctx, name, { consts: this.consts({ T: t, WG: t * t, QMAX: q, QPT: Math.ceil(q / (t * t)), OPT: Math.ceil((t * this.P) / (t * t)) }) });
    } else if (name === 'ssd_sequential') {
      k = new ComputeKernel(this.ctx, name, { consts: this.consts({ WG: this.seqWg, TT: this.seqTile }) });
    } else {
      k = new ComputeKernel(this.ctx, name);
    }
    this.kernels.set(name, k);
    return k;
  }

  private scratchBuf(name: string, floats: number, category: 'scratch' | 'ssm-state' = 'scratch'): GPUBuffer {
    const bytes = Math.max(16, floats * 4);
    let b = this.scratch.get(name);
    if (!b || b.size < bytes) {
      if (b) this.retired.push(b); // may still be referenced by encoded work
      b = this.ctx.buffer(bytes, category, `ssd-${name}`);
      this.scratch.set(name, b);
    }
    return b;
  }

  private resolve(io: SsdIO): Resolved {
    const { H, P, N, G } = this;
    const L = io.L;
    if (!Number.isInteger(L) || L < 1) throw new Error(`ssd: L = ${L} must be a positive integer`);
    const [xOff, xs] = checkView('ssd x', io.x, L, H * P, H * P);
    const [bOff, bs] = checkView('ssd B', io.B, L, G * N, G * N);
    const [cOff, cs] = checkView('ssd C', io.C, L, G * N, G * N);
    if (io.x.buffer !== io.B.buffer || io.x.buffer !== io.C.buffer) throw new Error('ssd: x, B and C must be views of one buffer (the conv output x | B | C)');
    if (xs !== bs || xs !== cs) throw new Error(`ssd: x, B and C must share one row stride (got ${xs}, ${bs}, ${cs})`);
    const [dtOff, dtStride] = checkView('ssd dt', io.dt, L, H, H);
    const [yOff, yStride] = checkView('ssd y', io.y, L, H * P, H * P);
    if ([io.x.buffer, io.dt.buffer, io.params, io.h0].includes(io.y.buffer)) throw new Error('ssd: y must not share a buffer with an input');
    if (io.hFinal && [io.x.buffer, io.dt.buffer, io.params, io.y.buffer].includes(io.hFinal)) {
      throw new Error('ssd: hFinal must not share a buffer with an input or y (h0 is allowed)');
    }
    if (io.params.size < 3 * H * 4) throw new Error(`ssd: params holds ${io.params.size / 4} floats, needs 3·H = ${3 * H} (A_log | D | dt_bias)`);
    for (const [b, what] of [[io.h0, 'h0'], [io.hFinal, 'hFinal']] as const) {
      if (b && b.size < H * P * N * 4) throw new Error(`ssd: ${what} holds ${b.size / 4} floats, needs H·P·N = ${H * P * N}`);
    }
    const [lo, hi] = io.dtLimit ?? [0, Infinity];
    if (!(lo >= 0 && hi > lo)) throw new Error(`ssd: dtLimit [${lo}, ${hi}] must have 0 ≤ lo < hi`);
    return { L, xOff, bOff, cOff, stride: xs, xbc: io.x.buffer, dtOff, dtStride, yOff, yStride, lo, hi };
  }

  /** Records the SSM over the L tokens into `pass`. */
  encode(pass: GPUComputePassEncoder, io: SsdIO, variant: SsdVariant | 'unfused' = 'fused'): void {
    const r = this.resolve(io);
    const hOut = io.hFinal ?? this.finalState;
    const h0 = io.h0 ?? null;
    const initMode = !h0 ? 0 : h0 === hOut ? 2 : 1;
    if (variant === 'sequential' || variant === 'unfused') this.encodeSequential(pass, io, r, h0, hOut, initMode);
    else if (variant === 'fused') this.encodeFused(pass, io, r, h0, hOut, initMode);
    else throw new Error(`ssd: unknown variant '${variant as string}' (use ${SSD_VARIANTS.join(' | ')})`);
  }

  private encodeSequential(pass: GPUComputePassEncoder, io: SsdIO, r: Resolved, h0: GPUBuffer | null, hOut: GPUBuffer, initMode: number): void {
    this.kernel('ssd_sequential').dispatch(
      pass,
      {
        L: r.L, xOff: r.xOff, bOff: r.bOff, cOff: r.cOff, xbcStride: r.stride, dtOff: r.dtOff, dtStride: r.dtStride,
        yOff: r.yOff, yStride: r.yStride, initMode, lo: r.lo, hi: f32Limit(r.hi),
      },
      [r.xbc, io.dt.buffer, io.params, initMode === 1 && h0 ? h0 : this.dummy, io.y.buffer, hOut],
      [Math.ceil(((this.H / this.G) * this.P) / this.seqWg), this.G],
    );
  }

  private encodeFused(pass: GPUComputePassEncoder, io: SsdIO, r: Resolved, h0: GPUBuffer | null, hOut: GPUBuffer, initMode: number): void {
    const { H, P, N } = this;
    const { chunk, tile } = this.plan;
    const hpn = H * P * N;
    const seg = this.segmentLength();
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    for (let t0 = 0; t0 < r.L; t0 += seg) {
      const L = Math.min(seg, r.L - t0);
      const nc = Math.ceil(L / chunk);
      const E = this.scratchBuf('states', nc * hpn);
      const csum = this.scratchBuf('csum', nc * H);
      const xOff = r.xOff + t0 * r.stride, bOff = r.bOff + t0 * r.stride, cOff = r.cOff + t0 * r.stride;
      const dtOff = r.dtOff + t0 * r.dtStride, yOff = r.yOff + t0 * r.yStride;
      const lo = r.lo, hi = f32Limit(r.hi);
      if (nc > maxDim) throw new LimitExceededError('maxComputeWorkgroupsPerDimension', nc, maxDim, 'SSD chunks');
      this.kernel('ssd_chunk_state').dispatch(
        pass,
        { L, chunk, nChunks: nc, xOff, bOff, xbcStride: r.stride, dtOff, dtStride: r.dtStride, lo, hi },
        [r.xbc, io.dt.buffer, io.params, E, csum],
        [nc, H],
      );
      const mode = t0 === 0 ? initMode : 2; // later segments continue from hOut
      const g = grid2d(hpn, maxDim);
      this.kernel('ssd_state_pass').dispatch(
        pass,
        { total: hpn, PN: P * N, heads: H, nChunks: nc, initMode: mode },
        [csum, mode === 1 && h0 ? h0 : this.dummy, E, hOut],
        [g.gx, g.gy],
      );
      this.kernel('ssd_chunk_out').dispatch(
        pass,
        {
          L, chunk, nChunks: nc, xOff, bOff, cOff, xbcStride: r.stride, dtOff, dtStride: r.dtStride, yOff,
          yStride: r.yStride, lo, hi,
        },
        [r.xbc, io.dt.buffer, io.params, E, io.y.buffer],
        [nc * (chunk / tile), H],
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

/**
 * The gated RMSNorm after the SSM (shaders/ssd_gated_norm.wgsl): out = rmsnorm_group(y ⊙ SiLU(z)) ⊙ w over groups of
 * d_inner / G channels, as mamba_ssm's RMSNormGated (norm_before_gate=False). y, z, out [L, d_inner] strided views.
 */
export class SsdGatedNorm {
  private readonly k: ComputeKernel;
  private readonly wg: number;

  constructor(ctx: GpuContext, readonly dIn: number, readonly G: number, readonly eps: number) {
    if (!(Number.isInteger(dIn) && dIn >= 1 && Number.isInteger(G) && G >= 1 && dIn % G === 0)) {
      throw new Error(`ssd gated norm: ${dIn} channels do not split into ${G} groups`);
    }
    this.wg = Math.min(256, ctx.limits.maxComputeInvocationsPerWorkgroup, nextPow2(dIn / G));
    this.k = new ComputeKernel(ctx, 'ssd_gated_norm', { constants: { WG: this.wg } });
  }

  encode(pass: GPUComputePassEncoder, L: number, y: StridedView, z: StridedView, w: GPUBuffer, out: StridedView): void {
    const { dIn, G } = this;
    if (!Number.isInteger(L) || L < 1) throw new Error(`ssd gated norm: L = ${L} must be a positive integer`);
    const [yOff, yStride] = checkView('ssd gated norm y', y, L, dIn, dIn);
    const [zOff, zStride] = checkView('ssd gated norm z', z, L, dIn, dIn);
    const [oOff, oStride] = checkView('ssd gated norm out', out, L, dIn, dIn);
    if (out.buffer === y.buffer || out.buffer === z.buffer) throw new Error('ssd gated norm: out must not alias y or z');
    if (w.size < dIn * 4) throw new Error(`ssd gated norm: weight holds ${w.size / 4} floats, needs ${dIn}`);
    this.k.dispatch(
      pass,
      { L, gs: dIn / G, eps: this.eps, yOff, yStride, zOff, zStride, oOff, oStride },
      [y.buffer, z.buffer, w, out.buffer],
      [Math.min(L, 32768), Math.ceil(L / 32768), G],
    );
  }
}
