/**
 * The two Mamba-specific fused decode kernels (one token); the layer's other two dispatches are DecodeMatvec
 * (x_proj, and out_proj with the residual add):
 *   MambaDecodeIn  (shaders/mamba_decode_in.wgsl):  RMSNorm → in_proj → conv step + SiLU → uz = (u | z)
 *   MambaDecodeSsm (shaders/mamba_decode_ssm.wgsl): dt_proj → softplus → SSM step → D skip → SiLU(z) gate → y
 * Small per-layer parameters sit in one f32 "pack" buffer per layer (one binding instead of eight), laid out by
 * mambaPackLayout(); buildMambaPack() fills it on the GPU from the model's parameter buffers.
 * (A one-pipeline-per-layer form of the four stages was measured slower on the H200 and removed: docs/benchmarks.md.)
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, type Binding } from '../gpu/kernel';
import { DecodeMatvec } from './decode_matvec';
import type { WeightDType } from './matmul';
import { SsmParamsPacker, ssmParamsLength } from './ssm_params';

export interface MambaDecodeShape {
  d: number;
  dIn: number;
  /** State size N. */
  n: number;
  /** dt_rank. */
  r: number;
  /** Conv width. */
  k: number;
  eps: number;
  inDtype: WeightDType;
  dtDtype: WeightDType;
  inBias: boolean;
  convBias: boolean;
  outBias: boolean;
}

/** Float offsets of one layer's small parameters in its pack buffer. */
export interface MambaPackLayout {
  A: number;      // [dIn, n] = −exp(A_log)   (first: the GPU packer writes [A | D | dtBias] from offset 0)
  D: number;      // [dIn]
  dtBias: number; // [dIn]
  norm: number;   // [d]
  convW: number;  // [dIn, k]
  convB: number;  // [dIn]
  inBias: number; // [2·dIn]
  outBias: number; // [d]
  total: number;
}

const up4 = (n: number) => Math.ceil(n / 4) * 4;

export function mambaPackLayout(s: MambaDecodeShape): MambaPackLayout {
  let o = 0;
  const take = (n: number) => { const at = o; o += up4(n); return at; };
  const A = 0, D = s.dIn * s.n, dtBias = D + s.dIn;
  o = up4(ssmParamsLength(s.dIn, s.n));
  const norm = take(s.d), convW = take(s.dIn * s.k);
  const convB = s.convBias ? take(s.dIn) : 0;
  const inBias = s.inBias ? take(2 * s.dIn) : 0;
  const outBias = s.outBias ? take(s.d) : 0;
  return { A, D, dtBias, norm, convW, convB, inBias, outBias, total: Math.max(o, 4) };
}

export interface MambaLayerParams {
  aLog: GPUBuffer; D: GPUBuffer; dtBias: GPUBuffer; norm: GPUBuffer; convW: GPUBuffer;
  convB?: GPUBuffer | null; inBias?: GPUBuffer | null; outBias?: GPUBuffer | null;
}

/**
 * Fills `pack` (mambaPackLayout(shape).total floats) for one layer: A = −exp(A_log), D, dt_bias through
 * ssm_pack_params.wgsl, the rest by buffer copies. Records into `encoder` (one compute pass + copies).
 */
export function buildMambaPack(ctx: GpuContext, encoder: GPUCommandEncoder, s: MambaDecodeShape, p: MambaLayerParams, pack: GPUBuffer): void {
  const L = mambaPackLayout(s);
  if (pack.size < L.total * 4) throw new Error(`mamba pack: buffer has ${pack.size} bytes, layout needs ${L.total * 4}`);
  const pass = encoder.beginComputePass({ label: 'mamba-pack' });
  new SsmParamsPacker(ctx).encode(pass, p.aLog, p.D, p.dtBias, pack, s.dIn, s.n);
  pass.end();
  const copy = (src: GPUBuffer | null | undefined, at: number, floats: number, what: string) => {
    if (!src) throw new Error(`mamba pack: ${what} missing`);
    if (src.size < floats * 4) throw new Error(`mamba pack: ${what} has ${src.size} bytes, needs ${floats * 4}`);
    encoder.copyBufferToBuffer(src, 0, pack, at * 4, floats * 4);
  };
  copy(p.norm, L.norm, s.d, 'norm weight');
  copy(p.convW, L.convW, s.dIn * s.k, 'conv weight');
  if (s.convBias) copy(p.convB, L.convB, s.dIn, 'conv bias');
  if (s.inBias) copy(p.inBias, L.inBias, 2 * s.dIn, 'in_proj bias');
  if (s.outBias) copy(p.outBias, L.outBias, s.d, 'out_proj bias');
}

function checkShape(s: MambaDecodeShape): void {
  for (const k of ['d', 'dIn', 'n', 'r', 'k'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`mamba decode: ${k} = ${s[k]} must be a positive integer`);
  }
  if (s.n > 256) throw new Error(`mamba decode: state size ${s.n} > 256 is not supported (one workgroup holds a channel's states)`);
}

const need = (what: string, b: GPUBuffer, floats: number) => {
  if (b.size < floats * 4) throw new Error(`${what}: needs ${floats} floats, buffer holds ${b.size / 4}`);
};

export interface MambaInIO {
  hidden: GPUBuffer;   // [d]
  w: GPUBuffer;        // in_proj weight [2·dIn, d]
  pack: GPUBuffer;
  convState: GPUBuffer; // [k−1, dIn]
  uz: GPUBuffer;        // [2·dIn] out
}

export class MambaDecodeIn {
  readonly kernel: ComputeKernel;
  readonly lanes: number;
  readonly rows: number;
  private readonly grid: [number, number];
  readonly layout: MambaPackLayout;

  constructor(ctx: GpuContext, readonly shape: MambaDecodeShape) {
    checkShape(shape);
    const { d, dIn, k } = shape;
    this.layout = mambaPackLayout(shape);
    // the same tiling rules as a DecodeMatvec of this shape
    const plan = DecodeMatvec.plan(ctx, d, 2 * dIn, shape.inDtype);
    this.lanes = plan.lanes;
    this.rows = plan.rows;
    const groups = Math.ceil((2 * dIn) / this.rows);
    const gx = Math.min(groups, ctx.limits.maxComputeWorkgroupsPerDimension);
    this.grid = [gx, Math.ceil(groups / gx)];
    this.kernel = new ComputeKernel(ctx, 'mamba_decode_in', { include: DecodeMatvec.include(plan.sg), constants: {
      ...plan.constants, DIN: dIn, KC: k, EPS: shape.eps, HAS_IN_BIAS: shape.inBias ? 1 : 0, HAS_CONV_BIAS: shape.convBias ? 1 : 0,
      NORM_OFF: this.layout.norm, CONVW_OFF: this.layout.convW, CONVB_OFF: this.layout.convB, INB_OFF: this.layout.inBias,
    } });
  }

  private buffers(io: MambaInIO): Binding[] {
    const { d, dIn, k, inDtype } = this.shape;
    const what = 'mamba_decode_in';
    need(`${what} hidden`, io.hidden, d);
    need(`${what} in_proj weight`, io.w, Math.ceil(2 * dIn * d * (inDtype === 'f16' ? 0.5 : 1)));
    need(`${what} pack`, io.pack, this.layout.total);
    need(`${what} conv state`, io.convState, dIn * (k - 1));
    need(`${what} uz`, io.uz, 2 * dIn);
    if (new Set([io.hidden, io.convState, io.uz]).size !== 3) throw new Error(`${what}: hidden, conv state and uz must be distinct buffers`);
    return [io.hidden, io.w, io.pack, io.convState, io.uz];
  }

  encode(pass: GPUComputePassEncoder, io: MambaInIO): void {
    this.kernel.dispatch(pass, null, this.buffers(io), this.grid);
  }

  bind(io: MambaInIO): { group: GPUBindGroup; grid: [number, number] } {
    return { group: this.kernel.bindGroup(null, this.buffers(io)), grid: this.grid };
  }
}

export interface MambaSsmIO {
  dbc: GPUBuffer;   // [r + 2n]
  wDt: GPUBuffer;   // dt_proj weight [dIn, r]
  pack: GPUBuffer;
  uz: GPUBuffer;    // [2·dIn]
  state: GPUBuffer; // [dIn, n]
  y: GPUBuffer;     // [dIn] out
}

export class MambaDecodeSsm {
  readonly kernel: ComputeKernel;
  readonly layout: MambaPackLayout;
  private readonly groups: number;

  constructor(ctx: GpuContext, readonly shape: MambaDecodeShape) {
    checkShape(shape);
    this.layout = mambaPackLayout(shape);
    // threads per channel: one per state on a GPU; on a CPU adapter as few as the 16 state registers allow
    const tpc = ctx.cpuTiling ? Math.ceil(shape.n / 16) : shape.n;
    const wg = ctx.cpuTiling ? 64 : 256;
    const cpw = Math.floor(wg / tpc);
    if (cpw < 1) throw new Error(`mamba_decode_ssm: state size ${shape.n} > ${wg} threads per workgroup`);
    this.groups = Math.ceil(shape.dIn / cpw);
    this.kernel = new ComputeKernel(ctx, 'mamba_decode_ssm', { constants: {
      DIN: shape.dIn, NS: shape.n, R: shape.r, W_F16: shape.dtDtype === 'f16' ? 1 : 0, CPW: cpw, TPC: tpc, WG: wg,
      A_OFF: this.layout.A, D_OFF: this.layout.D, DTB_OFF: this.layout.dtBias,
    } });
  }

  private buffers(io: MambaSsmIO): Binding[] {
    const { dIn, n, r, dtDtype } = this.shape;
    const what = 'mamba_decode_ssm';
    need(`${what} dbc`, io.dbc, r + 2 * n);
    need(`${what} dt_proj weight`, io.wDt, Math.ceil(dIn * r * (dtDtype === 'f16' ? 0.5 : 1)));
    need(`${what} pack`, io.pack, this.layout.total);
    need(`${what} uz`, io.uz, 2 * dIn);
    need(`${what} state`, io.state, dIn * n);
    need(`${what} y`, io.y, dIn);
    if (new Set([io.dbc, io.uz, io.state, io.y]).size !== 4) throw new Error(`${what}: dbc, uz, state and y must be distinct buffers`);
    return [io.dbc, io.wDt, io.pack, io.uz, io.state, io.y];
  }

  encode(pass: GPUComputePassEncoder, io: MambaSsmIO): void {
    this.kernel.dispatch(pass, null, this.buffers(io), [this.groups]);
  }

  bind(io: MambaSsmIO): { group: GPUBindGroup; grid: [number, number] } {
    return { group: this.kernel.bindGroup(null, this.buffers(io)), grid: [this.groups, 1] };
  }
}
