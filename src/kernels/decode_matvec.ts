/**
 * Decode-time dense layers (one token): shaders/decode_matvec.wgsl with the shared core decode_matvec_lib.wgsl.
 * y = W · prologue(x) for one row block of W [N, K] (f32 or packed f16, any K), prologue none / RMSNorm / LayerNorm,
 * epilogue bias / GELU / residual / in-place add, an optional second weight segment sharing x (GPT-NeoX: QKV and
 * dense_h_to_4h in one dispatch), and optional argmax partials for the LM head.
 *
 * Shapes, precision and tiling are override constants (one pipeline per shape, made once); offsets are uniforms,
 * so the same pipeline serves any buffers. `encode` records a dispatch now (with validation); `bind` makes the bind
 * group once for a DispatchList that replays it every token.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, type Binding } from '../gpu/kernel';
import type { UniformValues } from '../gpu/uniforms';
import { dummyBuffer, type WeightDType } from './matmul';

export type NormKind = 'none' | 'rms' | 'ln';
const NORM_CODE: Record<NormKind, number> = { none: 0, rms: 1, ln: 2 };

/** Epilogue flags (shaders/decode_matvec.wgsl). */
export const EPI_BIAS = 1;
export const EPI_GELU = 2;
export const EPI_ADD = 4;
export const EPI_RESIDUAL = 8;

export interface DecodeMatvecShape {
  /** Input features (columns). */
  K: number;
  /** Rows of the (first segment's) weight block. */
  N: number;
  dtype: WeightDType;
  /** Rows of the second segment's weight (0: none). */
  N2?: number;
  /** Precision of the second segment (must equal dtype: one pipeline reads both). */
  norm?: NormKind;
  eps?: number;
  /** Write per-workgroup (max, argmax, non-finite) partials after the outputs (LM head). */
  argmax?: boolean;
  /** Threads per row (power of two ≤ 256); default from the shape. */
  lanes?: number;
  /** Row sums with subgroup shuffles (default: when the adapter has subgroups); false forces workgroup memory. */
  subgroups?: boolean;
  /**
   * Row groups per workgroup (one prologue for all; with argmax, one partial for all). Default 1, or for argmax
   * enough to bring the workgroups down to about 1024 (at most 16): the LM head's ~12k row groups would otherwise
   * each redo the norm prologue and leave ~6k partials for the sampler's single merging workgroup.
   */
  rep?: number;
}

export interface SegmentArgs {
  /** Weight block buffer (PyTorch layout rows × K; f16 packed). */
  w: GPUBuffer;
  /** Output buffer index of row 0 of the whole matrix (the block's rows are written at yOff + rowStart + r). */
  yOff: number;
  /** EPI_* flags. */
  epi: number;
  /** Offsets into `pack` (floats) of the bias [N] and norm weight / bias [K]. */
  biasOff?: number;
  gOff?: number;
  bOff?: number;
}

export interface DecodeMatvecArgs {
  x: GPUBuffer;
  xOff?: number;
  /** The block's first row within the whole matrix. */
  rowStart?: number;
  seg1: SegmentArgs;
  seg2?: SegmentArgs;
  /** Norm weights and biases (f32), indexed by the offsets of the segments. */
  pack?: GPUBuffer | null;
  res?: GPUBuffer | null;
  resOff?: number;
  y: GPUBuffer;
  /** Where this block's argmax partials start in y (floats; 3 per workgroup). */
  partOff?: number;
}

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export class DecodeMatvec {
  readonly K: number;
  readonly N: number;
  readonly N2: number;
  readonly lanes: number;
  readonly rows: number;
  /** Row groups per workgroup. */
  readonly rep: number;
  /** Workgroups of segment 1 and in all. */
  readonly groups1: number;
  readonly groups: number;
  readonly staged: boolean;
  readonly vec: boolean;
  /** Subgroup size the row sums assume (0: sums through workgroup memory). */
  readonly sg: number;
  readonly kernel: ComputeKernel;
  private readonly grid: [number, number];
  private readonly dummy: GPUBuffer;
  static readonly WG = 256;
  static readonly CPU_WG = 64;

  constructor(ctx: GpuContext, readonly shape: DecodeMatvecShape) {
    const { K, N, dtype } = shape;
    const N2 = shape.N2 ?? 0;
    const what = `decode matvec K=${K} N=${N}${N2 ? `+${N2}` : ''} ${dtype}`;
    for (const [k, v] of [['K', K], ['N', N], ['N2', N2]] as const) {
      if (!Number.isInteger(v) || v < (k === 'N2' ? 0 : 1)) throw new Error(`${what}: ${k} = ${v} must be a positive integer`);
    }
    if (shape.argmax && N2) throw new Error(`${what}: argmax partials need a single segment`);
    if (shape.argmax && N >= 2 ** 24) throw new Error(`${what}: argmax partials hold row indices as f32 (N < 2^24)`);
    this.K = K;
    this.N = N;
    this.N2 = N2;
    const plan = DecodeMatvec.plan(ctx, K, N + N2, dtype, { lanes: shape.lanes, subgroups: shape.subgroups });
    this.vec = plan.vec;
    this.lanes = plan.lanes;
    this.rows = plan.rows;
    this.staged = plan.staged;
    this.sg = plan.sg;
    const rowGroups1 = Math.ceil(N / this.rows);
    const rep = shape.rep ?? (shape.argmax ? Math.min(16, Math.max(1, Math.ceil(rowGroups1 / 1024))) : 1);
    if (!(Number.isInteger(rep) && rep >= 1)) throw new Error(`${what}: rep = ${rep} must be a positive integer`);
    this.rep = rep;
    this.groups1 = Math.ceil(rowGroups1 / rep);
    this.groups = this.groups1 + Math.ceil(Math.ceil(N2 / this.rows) / rep);
    const max = ctx.limits.maxComputeWorkgroupsPerDimension;
    const gx = Math.min(this.groups, max);
    this.grid = [gx, Math.ceil(this.groups / gx)];
    const norm = shape.norm ?? 'none';
    this.kernel = new ComputeKernel(ctx, 'decode_matvec', { include: DecodeMatvec.include(plan.sg), constants: {
      ...plan.constants, NORM: NORM_CODE[norm], EPS: shape.eps ?? 1e-5, N1: N, N2, G1: this.groups1, ARGMAX: shape.argmax ? 1 : 0, REP: rep,
    } });
    this.dummy = dummyBuffer(ctx);
  }

  /**
   * Tiling of a [rows, K] weight block: LANES threads per row (enough 16-byte chunks per thread for four loads in
   * flight, at least 256 workgroups when the rows allow), x staged in workgroup memory when it fits next to the
   * reduction arrays (`reserveShared` more bytes for the caller's own workgroup arrays). Returns the library's
   * override constants too.
   */
  static plan(ctx: GpuContext, K: number, rows: number, dtype: WeightDType, opts: { lanes?: number; reserveShared?: number; subgroups?: boolean } = {}) {
    // A CPU adapter (SwiftShader) pays per invocation at every barrier: there a thread sums a whole row (one lane,
    // no row reduction) in workgroups of 64, ~12x faster decode than the GPU tiling on two cores.
    const cpu = ctx.cpuTiling && opts.lanes === undefined;
    const WG = cpu ? DecodeMatvec.CPU_WG : Math.min(DecodeMatvec.WG, ctx.limits.maxComputeInvocationsPerWorkgroup);
    const vec = dtype === 'f16' ? K % 8 === 0 : K % 4 === 0;
    const per = vec ? (dtype === 'f16' ? 8 : 4) : 1;
    const chunks = Math.ceil(K / per);
    // no more lanes than chunks per row (idle lanes cost barriers, and whole workgroups on a CPU device)
    const most = Math.min(WG, Math.max(8, nextPow2(chunks)));
    let lanes = opts.lanes ?? (cpu ? 1 : Math.min(most, Math.max(8, nextPow2(Math.ceil(chunks / 4)))));
    // (on a CPU adapter every workgroup re-runs the prologue on a handful of cores: keep them few there)
    if (opts.lanes === undefined && !cpu) while (lanes < most && Math.ceil(rows / (WG / lanes)) < 256) lanes *= 2;
    if (!(lanes >= 1 && lanes <= WG && (lanes & (lanes - 1)) === 0)) throw new Error(`decode matvec K=${K}: lanes = ${lanes} must be a power of two ≤ ${WG}`);
    const rowsPer = WG / lanes;
    const shared = Math.ceil(K / 4) * 16 + 2 * WG * 4 + 3 * rowsPer * 4 + 64 + (opts.reserveShared ?? 0);
    const staged = shared <= ctx.limits.maxComputeWorkgroupStorageSize;
    // subgroup row sums: the adapter's smallest subgroup size, 0 for the workgroup-memory sums
    const sgMin = ctx.has('subgroups') ? ctx.acquired.adapterInfo.subgroupMinSize : 0;
    const sg = opts.subgroups !== false && sgMin >= 1 && (sgMin & (sgMin - 1)) === 0 ? sgMin : 0;
    if (opts.subgroups && !sg) throw new Error(`decode matvec K=${K}: subgroup row sums need the subgroups feature`);
    return {
      lanes, rows: rowsPer, vec, staged, sg,
      constants: {
        WG, LANES: lanes, K, W_F16: dtype === 'f16' ? 1 : 0, VEC: vec ? 1 : 0, STAGED: staged ? 1 : 0, XS4: staged ? Math.max(1, Math.ceil(K / 4)) : 1,
        ...(sg ? { SG: sg } : {}),
      },
    };
  }

  /** Which row-sum snippet the decode matvec shaders include (decode_matvec_red_{RED}.wgsl): subgroup shuffles when
   * plan.sg > 0, else workgroup memory. */
  static include(sg: number): { RED: 'subgroup' | 'shared' } {
    return { RED: sg ? 'subgroup' : 'shared' };
  }

  /** Floats of argmax partials this block writes (3 per workgroup). */
  get partialFloats(): number {
    return this.shape.argmax ? 3 * this.groups1 : 0;
  }

  private check(a: DecodeMatvecArgs): void {
    const { K, N, N2 } = this;
    const what = `decode matvec K=${K} N=${N}`;
    const need = (b: GPUBuffer, floats: number, name: string) => {
      if (floats * 4 > b.size) throw new Error(`${what}: ${name} needs ${floats} floats, buffer holds ${b.size / 4}`);
    };
    const off = (v: number | undefined, name: string) => {
      if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new Error(`${what}: ${name} = ${v} must be a non-negative integer`);
      return v ?? 0;
    };
    const rowStart = off(a.rowStart, 'rowStart');
    need(a.x, off(a.xOff, 'xOff') + K, 'x');
    const per = this.shape.dtype === 'f16' ? 0.5 : 1;
    const seg = (s: SegmentArgs, rows: number, name: string) => {
      need(s.w, Math.ceil(rows * K * per), `${name} weights`);
      need(a.y, off(s.yOff, `${name} yOff`) + rowStart + rows, `${name} output`);
      if (s.epi & EPI_BIAS) {
        if (!a.pack) throw new Error(`${what}: ${name} has a bias but no pack buffer`);
        need(a.pack, off(s.biasOff, `${name} biasOff`) + rowStart + rows, `${name} bias`);
      }
      if ((this.shape.norm ?? 'none') !== 'none') {
        if (!a.pack) throw new Error(`${what}: ${name} normalises but has no pack buffer`);
        need(a.pack, off(s.gOff, `${name} gOff`) + K, `${name} norm weight`);
        if (this.shape.norm === 'ln') need(a.pack, off(s.bOff, `${name} bOff`) + K, `${name} norm bias`);
      }
      if (s.epi & EPI_RESIDUAL) {
        if (!a.res) throw new Error(`${what}: residual epilogue without a residual buffer`);
        if (a.res === a.y) throw new Error(`${what}: the residual must be a different buffer from y (use EPI_ADD for in-place adds)`);
        need(a.res, off(a.resOff, 'resOff') + rowStart + rows, 'residual');
      }
    };
    seg(a.seg1, N, 'segment 1');
    if (N2) {
      if (!a.seg2) throw new Error(`${what}: two segments but no seg2 arguments`);
      seg(a.seg2, N2, 'segment 2');
    }
    if (this.shape.argmax) need(a.y, off(a.partOff, 'partOff') + this.partialFloats, 'argmax partials');
    if (a.x === a.y) throw new Error(`${what}: x and y must be different buffers`);
  }

  private uniforms(a: DecodeMatvecArgs): UniformValues {
    const s1 = a.seg1, s2 = a.seg2 ?? a.seg1;
    return {
      xOff: a.xOff ?? 0, rowStart: a.rowStart ?? 0, resOff: a.resOff ?? 0, partOff: a.partOff ?? 0, y1Off: s1.yOff,
      epi1: s1.epi, bias1Off: s1.biasOff ?? 0, g1Off: s1.gOff ?? 0, nb1Off: s1.bOff ?? 0, y2Off: s2.yOff,
      epi2: s2.epi, bias2Off: s2.biasOff ?? 0, g2Off: s2.gOff ?? 0, nb2Off: s2.bOff ?? 0,
    };
  }

  private buffers(a: DecodeMatvecArgs): Binding[] {
    return [a.x, a.seg1.w, a.seg2?.w ?? this.dummy, a.pack ?? this.dummy, a.res ?? this.dummy, a.y];
  }

  encode(pass: GPUComputePassEncoder, a: DecodeMatvecArgs): void {
    this.check(a);
    this.kernel.dispatch(pass, this.uniforms(a), this.buffers(a), this.grid);
  }

  /** Checks the arguments and makes the bind group once (uniforms in `uniforms`), for DispatchList.add. */
  bind(uniforms: { add(data: ArrayBuffer): GPUBufferBinding }, a: DecodeMatvecArgs): { group: GPUBindGroup; grid: [number, number] } {
    this.check(a);
    return { group: this.kernel.bindGroup(uniforms.add(this.kernel.uniforms(this.uniforms(a))), this.buffers(a)), grid: this.grid };
  }
}
