/**
 * The two Mamba-specific fused decode kernels (one token); the layer's other two dispatches are DecodeMatvec
 * (x_proj, and out_proj with the residual add):
 *   MambaDecodeIn  (shaders/mamba_decode_in.wgsl):  RMSNorm → in_proj → conv step + SiLU → uz = (u | z)
 *   MambaDecodeSsm (shaders/mamba_decode_ssm.wgsl): dt_proj → softplus → SSM step → D skip → SiLU(z) gate → y
 * Small per-layer parameters sit in one f32 "pack" buffer per layer (one binding instead of eight), laid out by
 * mambaPackLayout(); buildMambaPack() fills it on the GPU from the model's parameter buffers. MambaDecodeLayer runs the
 * same four stages from one pipeline and one bind group per layer (what the recorded decode step uses).
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, DispatchList, type Binding } from '../gpu/kernel';
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
    const cpw = Math.floor(256 / shape.n);
    this.groups = Math.ceil(shape.dIn / cpw);
    this.kernel = new ComputeKernel(ctx, 'mamba_decode_ssm', { constants: {
      DIN: shape.dIn, NS: shape.n, R: shape.r, W_F16: shape.dtDtype === 'f16' ? 1 : 0, CPW: cpw,
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

/** Float offsets of one decode step's activations in the single buffer the layer kernel binds. */
export interface MambaActsLayout {
  hidden: number; // [d]
  uz: number;     // [2·dIn]
  dbc: number;    // [r + 2n]
  y: number;      // [dIn]
  total: number;
}

export function mambaActsLayout(s: MambaDecodeShape): MambaActsLayout {
  const up4 = (n: number) => Math.ceil(n / 4) * 4;
  const hidden = 0, uz = up4(s.d), dbc = uz + up4(2 * s.dIn), y = dbc + up4(s.r + 2 * s.n);
  return { hidden, uz, dbc, y, total: y + up4(s.dIn) };
}

export interface MambaLayerIO {
  acts: GPUBuffer;     // mambaActsLayout
  wIn: GPUBuffer;
  wX: GPUBuffer;
  wDt: GPUBuffer;
  wOut: GPUBuffer;
  pack: GPUBuffer;     // mambaPackLayout
  convState: GPUBuffer;
  ssmState: GPUBuffer;
}

/**
 * A whole Mamba layer's decode as one pipeline (shaders/mamba_decode_layer.wgsl): one bind group per layer and four
 * dispatches whose grid sizes select the stage (in, x_proj, SSM, out), so the recorded step changes pipeline only
 * around the layers and binds each layer once. `xDtype` is the precision of in_proj, x_proj and out_proj (one pipeline
 * reads all three); MambaDecodeLayer.blocker() says when this form cannot be used (the model then records the four
 * separate kernels).
 */
export class MambaDecodeLayer {
  readonly kernel: ComputeKernel;
  readonly acts: MambaActsLayout;
  readonly layout: MambaPackLayout;
  /** Grid x of the four stages, distinct (in, x, ssm, out). */
  readonly grids: [number, number, number, number];

  static blocker(ctx: GpuContext, s: MambaDecodeShape, xDtype: WeightDType, dtypes: WeightDType[]): string | null {
    if (dtypes.some((t) => t !== xDtype)) return 'in_proj, x_proj and out_proj differ in precision';
    if (ctx.limits.maxStorageBuffersPerShaderStage < 8) return 'fewer than 8 storage buffers per stage';
    if (ctx.limits.maxComputeInvocationsPerWorkgroup < 256) return 'fewer than 256 invocations per workgroup';
    if (!DecodeMatvec.plan(ctx, Math.max(s.d, s.dIn), 1, xDtype, { reserveShared: 4 * 256 }).staged) return 'd_inner does not fit workgroup memory';
    return null;
  }

  constructor(ctx: GpuContext, readonly shape: MambaDecodeShape) {
    checkShape(shape);
    const { d, dIn, n, r, k } = shape;
    const t = shape.inDtype;
    this.layout = mambaPackLayout(shape);
    this.acts = mambaActsLayout(shape);
    const pin = DecodeMatvec.plan(ctx, d, 2 * dIn, t);
    const px = DecodeMatvec.plan(ctx, dIn, r + 2 * n, t);
    const pout = DecodeMatvec.plan(ctx, dIn, d, t);
    const cpw = Math.floor(256 / n);
    const g = [Math.ceil((2 * dIn) / pin.rows), Math.ceil((r + 2 * n) / px.rows), Math.ceil(dIn / cpw), Math.ceil(d / pout.rows)];
    for (let i = 1; i < 4; i++) while (g.slice(0, i).includes(g[i])) g[i]++; // padding workgroups exit at once
    const max = ctx.limits.maxComputeWorkgroupsPerDimension;
    if (g.some((x) => x > max)) throw new Error(`mamba decode layer: a stage needs more than ${max} workgroups`);
    this.grids = g as [number, number, number, number];
    const vec = (K: number) => (t === 'f16' ? K % 8 === 0 : K % 4 === 0) ? 1 : 0;
    const L = this.layout, A = this.acts;
    this.kernel = new ComputeKernel(ctx, 'mamba_decode_layer', { constants: {
      WG: 256, W_F16: t === 'f16' ? 1 : 0, STAGED: 1, XS4: Math.ceil(Math.max(d, dIn) / 4),
      D: d, DIN: dIn, NS: n, R: r, KC: k, EPS: shape.eps, DT_F16: shape.dtDtype === 'f16' ? 1 : 0,
      HAS_IN_BIAS: shape.inBias ? 1 : 0, HAS_CONV_BIAS: shape.convBias ? 1 : 0, HAS_OUT_BIAS: shape.outBias ? 1 : 0,
      NORM_OFF: L.norm, CONVW_OFF: L.convW, CONVB_OFF: L.convB, INB_OFF: L.inBias, OUTB_OFF: L.outBias, A_OFF: L.A, D_OFF: L.D, DTB_OFF: L.dtBias,
      HID_OFF: A.hidden, UZ_OFF: A.uz, DBC_OFF: A.dbc, Y_OFF: A.y,
      LANES_IN: pin.lanes, LANES_X: px.lanes, LANES_OUT: pout.lanes, VEC_IN: vec(d), VEC_DIN: vec(dIn), CPW: cpw,
      G_IN: g[0], G_X: g[1], G_SSM: g[2], G_OUT: g[3],
    } });
  }

  private buffers(io: MambaLayerIO): Binding[] {
    const { d, dIn, n, r, k, inDtype, dtDtype } = this.shape;
    const what = 'mamba_decode_layer';
    const per = (t: WeightDType) => (t === 'f16' ? 0.5 : 1);
    need(`${what} acts`, io.acts, this.acts.total);
    need(`${what} in_proj weight`, io.wIn, Math.ceil(2 * dIn * d * per(inDtype)));
    need(`${what} x_proj weight`, io.wX, Math.ceil((r + 2 * n) * dIn * per(inDtype)));
    need(`${what} dt_proj weight`, io.wDt, Math.ceil(dIn * r * per(dtDtype)));
    need(`${what} out_proj weight`, io.wOut, Math.ceil(d * dIn * per(inDtype)));
    need(`${what} pack`, io.pack, this.layout.total);
    need(`${what} conv state`, io.convState, dIn * (k - 1));
    need(`${what} state`, io.ssmState, dIn * n);
    if (new Set([io.acts, io.convState, io.ssmState]).size !== 3) throw new Error(`${what}: acts, conv state and SSM state must be distinct buffers`);
    return [io.acts, io.wIn, io.wX, io.wDt, io.wOut, io.pack, io.convState, io.ssmState];
  }

  bind(io: MambaLayerIO): GPUBindGroup {
    return this.kernel.bindGroup(null, this.buffers(io));
  }

  /** Appends the layer's four stages (one pipeline, one bind group). */
  record(list: DispatchList, group: GPUBindGroup): void {
    for (const x of this.grids) list.add(this.kernel, group, [x]);
  }

  encode(pass: GPUComputePassEncoder, io: MambaLayerIO): void {
    const group = this.bind(io);
    pass.setPipeline(this.kernel.pipeline);
    pass.setBindGroup(0, group);
    for (const x of this.grids) pass.dispatchWorkgroups(x);
  }
}
