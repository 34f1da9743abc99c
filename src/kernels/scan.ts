/**
 * Mamba v1 selective scan on the GPU (prefill), three selectable variants with identical inputs and outputs:
 *
 *  - 'fused' (default): the chunked three-pass form, parallel over (chunk, channel): pass 1
 *    (selective_scan_chunk_state) runs every chunk but the last from zero state and writes only its end state [D, N]
 *    and ΣΔ [D]; pass 2 (selective_scan_chunk_combine) walks the chunks per (d, n) to get each chunk's incoming state
 *    (decay = exp(A·ΣΔ)); pass 3 (selective_scan_chunk_out) re-runs each chunk from its incoming state with the fused
 *    readout, D skip and SiLU(z) gate, and the last chunk writes h_L. The expanded [L, D, N] state never touches
 *    global memory. With one chunk (tiny L) only pass 3 runs. Chunk length and tiles: ./scan_plan.ts.
 *  - 'sequential': pass 3 alone with one chunk = the whole sequence (one thread per channel walks all L tokens).
 *  - 'unfused': the textbook baseline: discretize (writes dA = exp(Δ·A) and dBu = Δ·B·u, [Ls, D, N] each, to global
 *    memory), scan over the expanded arrays (writes the states), readout + D skip + gate. Processed in segments of Ls
 *    tokens so each expanded array fits a binding (the state is carried between segments).
 * (Other fused forms, a one-pass subgroup kernel and a one-dispatch short-L kernel, were slower on every GPU measured;
 * they live in the kernel lab, src/bench/lab/, for the benches: docs/scan-kernel-notes.md.)
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
import { ComputeKernel, type Binding } from '../gpu/kernel';
import { LimitExceededError } from '../gpu/errors';
import type { UniformValues } from '../gpu/uniforms';
import { chunkLength, chunkTiling, grid2d, unfusedSegmentLength, type ChunkTiling } from './scan_plan';
import { ssmParamsLength } from './ssm_params';

export { grid2d };

export type ScanVariant = 'fused' | 'unfused' | 'sequential';
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
  /** Fixed chunk length for 'fused' (default: chosen from L and D, see chunkLength()). */
  chunk?: number;
  /** Chunked 'fused' aims for about this many threads (chunks × channels); default 49152. */
  targetThreads?: number;
  /** Threads (channels) per workgroup for the chunk kernels; default 128 (64 when workgroup memory is small). */
  workgroup?: number;
  /** Tokens per workgroup-memory tile in the chunk kernels; default 8, halved until it fits. */
  tile?: number;
  /** Cap on each of the unfused variant's expanded arrays, in bytes; default 64 MiB (also ≤ the binding limit). */
  unfusedMaxBytes?: number;
}

/** One dispatch of a scan call: which pass, its kernel, uniforms, bindings and grid. */
export type ScanStage = 'state' | 'combine' | 'out' | 'discretize' | 'scan' | 'readout';
export interface ScanDispatch {
  stage: ScanStage;
  kernel: ComputeKernel;
  uniforms: UniformValues;
  buffers: Binding[];
  grid: [number, number?, number?];
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

/** The element offsets and row strides of a scan call's views, named as the kernels' Params fields. */
export interface ScanViews {
  uOff: number; uStride: number;
  dOff: number; dStride: number;
  zOff: number; zStride: number;
  bOff: number; cOff: number; bcStride: number;
  yOff: number; yStride: number;
}

/** A checked scan call: its views, the shared B/C buffer, the gate buffer (null: no gate). */
export interface ResolvedScan {
  L: number;
  views: ScanViews;
  bc: GPUBuffer;
  z: GPUBuffer | null;
}

/** Checks a scan call's inputs and outputs for D channels and N states (clear errors for bad shapes and aliasing). */
export function resolveScan(D: number, N: number, io: ScanIO): ResolvedScan {
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
    L, bc: io.B.buffer, z: io.z?.buffer ?? null,
    views: { uOff, uStride, dOff, dStride, zOff, zStride, bOff, cOff, bcStride: bStride, yOff, yStride },
  };
}

/** Where a pass starts from: 0 zeros, 1 the h0 buffer, 2 the output state itself (h0 === hFinal, in place). */
export function initMode(h0: GPUBuffer | null, hOut: GPUBuffer): 0 | 1 | 2 {
  return !h0 ? 0 : h0 === hOut ? 2 : 1;
}

export class SelectiveScan {
  readonly D: number;
  readonly N: number;
  variant: ScanVariant;
  /** Channels per workgroup and tokens per workgroup-memory tile of the chunk kernels. */
  readonly tiling: ChunkTiling;
  private readonly opts: ScanOptions;
  private readonly kernels = new Map<string, ComputeKernel>();
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
    const lim = ctx.limits;
    this.tiling = chunkTiling(N, { maxInvocations: lim.maxComputeInvocationsPerWorkgroup, maxWgStorage: lim.maxComputeWorkgroupStorageSize }, opts);
    this.dummy = ctx.buffer(16, 'scratch', 'scan-dummy');
  }

  /** Chunk length the fused variant uses for a sequence of L tokens. */
  chunkFor(L: number): number {
    return chunkLength(L, this.D, this.ctx.limits.maxComputeWorkgroupsPerDimension, { fixed: this.opts.chunk, targetThreads: this.opts.targetThreads });
  }

  /** Tokens per segment of the unfused variant (each expanded array [Ls, D, N] must fit one binding). */
  unfusedSegment(L: number): number {
    const cap = Math.min(this.opts.unfusedMaxBytes ?? 64 << 20, this.ctx.limits.maxStorageBufferBindingSize);
    return unfusedSegmentLength(L, this.D, this.N, cap);
  }

  /** The internal final-state buffer used when encode() gets no hFinal ([D, N]). */
  get finalState(): GPUBuffer {
    return this.scratchBuf('hfinal', this.D * this.N, 'ssm-state');
  }

  private kernel(shader: string): ComputeKernel {
    let k = this.kernels.get(shader);
    if (!k) {
      const { wg, tt, nv, bpt, bcpt } = this.tiling;
      const chunked = shader === 'selective_scan_chunk_state' || shader === 'selective_scan_chunk_out';
      k = new ComputeKernel(this.ctx, shader, chunked ? { consts: { NS: this.N, NV: nv, TT: tt, WG: wg, BPT: bpt, BCPT: bcpt } } : {});
      this.kernels.set(shader, k);
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

  /** The dispatches encode() records for this call, in order (the benches time them one by one). */
  dispatches(io: ScanIO, variant: ScanVariant = this.variant): ScanDispatch[] {
    const r = resolveScan(this.D, this.N, io);
    const hOut = io.hFinal ?? this.finalState;
    const h0 = io.h0 ?? null;
    if (variant === 'unfused') return this.unfused(io, r, h0, hOut);
    if (variant === 'fused') return this.chunked(io, r, h0, hOut, this.chunkFor(r.L));
    if (variant === 'sequential') return this.chunked(io, r, h0, hOut, r.L);
    throw new Error(`selective scan: unknown variant '${variant as string}' (use ${SCAN_VARIANTS.join(' | ')})`);
  }

  /** Records the scan into `pass` with the given (or the default) variant. */
  encode(pass: GPUComputePassEncoder, io: ScanIO, variant: ScanVariant = this.variant): void {
    for (const d of this.dispatches(io, variant)) d.kernel.dispatch(pass, d.uniforms, d.buffers, d.grid);
  }

  private chunked(io: ScanIO, r: ResolvedScan, h0: GPUBuffer | null, hOut: GPUBuffer, chunk: number): ScanDispatch[] {
    const { D, N } = this;
    const v = r.views;
    const nc = Math.ceil(r.L / chunk);
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    if (nc > maxDim) throw new LimitExceededError('maxComputeWorkgroupsPerDimension', nc, maxDim, 'selective scan chunks');
    const gx = Math.ceil(D / this.tiling.wg);
    const out: ScanDispatch[] = [];
    // Where pass 3's chunk 0 starts from: the combined states (several chunks), else zeros / h0 / hOut in place.
    let hin = this.dummy;
    let init = initMode(h0, hOut);
    if (nc > 1) {
      const states = this.scratchBuf('states', nc * D * N);
      const dsum = this.scratchBuf('dsum', (nc - 1) * D);
      out.push({
        stage: 'state', kernel: this.kernel('selective_scan_chunk_state'),
        uniforms: { L: r.L, D, chunk, nChunks: nc, uOff: v.uOff, uStride: v.uStride, dOff: v.dOff, dStride: v.dStride, bOff: v.bOff, bcStride: v.bcStride },
        buffers: [io.u.buffer, io.delta.buffer, r.bc, io.params, states, dsum],
        grid: [gx, nc - 1],
      }, {
        stage: 'combine', kernel: this.kernel('selective_scan_chunk_combine'),
        uniforms: { D, N, nChunks: nc, hasInit: h0 ? 1 : 0 },
        buffers: [io.params, dsum, h0 ?? this.dummy, states],
        grid: [Math.ceil((D * N) / 256)],
      });
      hin = states;
      init = 1;
    } else if (init === 1) {
      hin = h0!;
    }
    out.push({
      stage: 'out', kernel: this.kernel('selective_scan_chunk_out'),
      uniforms: { L: r.L, D, chunk, nChunks: nc, ...v, flags: (r.z ? 1 : 0) | (init << 1) },
      buffers: [io.u.buffer, io.delta.buffer, r.z ?? this.dummy, r.bc, io.params, hin, io.y.buffer, hOut],
      grid: [gx, nc],
    });
    return out;
  }

  private unfused(io: ScanIO, r: ResolvedScan, h0: GPUBuffer | null, hOut: GPUBuffer): ScanDispatch[] {
    const { D, N } = this;
    const v = r.views;
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const Ls = this.unfusedSegment(r.L);
    const dA = this.scratchBuf('dA', Ls * D * N);
    const dBu = this.scratchBuf('dBu', Ls * D * N);
    const out: ScanDispatch[] = [];
    for (let t0 = 0; t0 < r.L; t0 += Ls) {
      const ls = Math.min(Ls, r.L - t0);
      const g1 = grid2d(ls * D * N, maxDim);
      out.push({
        stage: 'discretize', kernel: this.kernel('selective_scan_unfused_discretize'),
        uniforms: { t0, Ls: ls, D, N, uOff: v.uOff, uStride: v.uStride, dOff: v.dOff, dStride: v.dStride, bOff: v.bOff, bcStride: v.bcStride, stride: g1.stride },
        buffers: [io.u.buffer, io.delta.buffer, r.bc, io.params, dA, dBu],
        grid: [g1.gx, g1.gy],
      });
      const init = t0 === 0 ? initMode(h0, hOut) : 2; // later segments continue from hOut
      out.push({
        stage: 'scan', kernel: this.kernel('selective_scan_unfused_scan'),
        uniforms: { Ls: ls, DN: D * N, initMode: init },
        buffers: [dA, dBu, init === 1 ? h0! : this.dummy, hOut],
        grid: [Math.ceil((D * N) / 256)],
      });
      const g2 = grid2d(ls * D, maxDim);
      out.push({
        stage: 'readout', kernel: this.kernel('selective_scan_unfused_readout'),
        uniforms: {
          t0, Ls: ls, D, N, uOff: v.uOff, uStride: v.uStride, zOff: v.zOff, zStride: v.zStride, cOff: v.cOff,
          bcStride: v.bcStride, yOff: v.yOff, yStride: v.yStride, hasZ: r.z ? 1 : 0, stride: g2.stride,
        },
        buffers: [dBu, r.bc, io.u.buffer, r.z ?? this.dummy, io.params, io.y.buffer],
        grid: [g2.gx, g2.gy],
      });
    }
    return out;
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
