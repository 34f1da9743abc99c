/**
 * Mamba-2's decode step (one token), three dispatches per layer, modelled on the Mamba-1 decode kernels
 * (./mamba_decode.ts):
 *   Mamba2DecodeIn  (shaders/mamba2_decode_in.wgsl):  RMSNorm → in_proj → conv step + SiLU over x, B, C → zxbcdt
 *   Mamba2DecodeSsm (shaders/mamba2_decode_ssm.wgsl): Δ = clamp(softplus(dt + dt_bias)), state update per head, C·S
 *                                                     readout, D skip → y
 *   Mamba2DecodeOut (shaders/mamba2_decode_out.wgsl): y ⊙ SiLU(z), RMSNorm per group, out_proj, residual add
 * Activations live in ONE buffer per step (mamba2ActsLayout: hidden | zxbcdt | y), small per-layer parameters in one
 * f32 pack per layer (mamba2PackLayout), filled on the GPU by buildMamba2Pack() from the model's parameter buffers.
 * CPU oracle: src/reference/ssd.ts (one token of the recurrence) and src/reference/mamba2.ts.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, type Binding } from '../gpu/kernel';
import { DecodeMatvec } from './decode_matvec';
import type { WeightDType } from './matmul';

export interface Mamba2DecodeShape {
  /** d_model, heads, head dim, state size, groups, conv width */
  d: number; h: number; p: number; n: number; g: number; k: number;
  eps: number;
  /** time_step_limit (Δ clamped after softplus) */
  dtLimit: [number, number];
  /** precision of in_proj and of out_proj (f16 only where the loader kept it: K % 8 == 0) */
  dtype: WeightDType;
  outDtype: WeightDType;
  inBias: boolean; convBias: boolean; outBias: boolean;
}

const up4 = (n: number) => Math.ceil(n / 4) * 4;
const dims = (s: Mamba2DecodeShape) => {
  const dIn = s.h * s.p, cd = dIn + 2 * s.g * s.n;
  return { dIn, cd, proj: dIn + cd + s.h };
};

/** Float offsets of one layer's small parameters in its pack buffer. */
export interface Mamba2PackLayout {
  ssd: number;    // [A_log (h) | D (h) | dt_bias (h)]   (first: as the SSD kernels read them)
  norm: number;   // [d]          block RMSNorm weight
  convW: number;  // [cd, k]
  convB: number;  // [cd]
  inBias: number; // [dIn + cd + h]
  outBias: number; // [d]
  gnorm: number;  // [dIn]        gated norm weight
  total: number;
}

export function mamba2PackLayout(s: Mamba2DecodeShape): Mamba2PackLayout {
  const { dIn, cd, proj } = dims(s);
  let o = 0;
  const take = (n: number) => { const at = o; o += up4(n); return at; };
  const ssd = take(3 * s.h), norm = take(s.d), convW = take(cd * s.k);
  const convB = s.convBias ? take(cd) : 0;
  const inBias = s.inBias ? take(proj) : 0;
  const outBias = s.outBias ? take(s.d) : 0;
  const gnorm = take(dIn);
  return { ssd, norm, convW, convB, inBias, outBias, gnorm, total: Math.max(o, 4) };
}

/** Float offsets of one decode step's activations in the single buffer the three kernels bind. */
export interface Mamba2ActsLayout {
  hidden: number; // [d]
  zxbcdt: number; // [dIn + cd + h]   z | x, B, C (after the conv) | dt
  y: number;      // [dIn]
  total: number;
}

export function mamba2ActsLayout(s: Mamba2DecodeShape): Mamba2ActsLayout {
  const { dIn, proj } = dims(s);
  const hidden = 0, zxbcdt = up4(s.d), y = zxbcdt + up4(proj);
  return { hidden, zxbcdt, y, total: y + up4(dIn) };
}

export interface Mamba2LayerParams {
  aLog: GPUBuffer; D: GPUBuffer; dtBias: GPUBuffer; norm: GPUBuffer; convW: GPUBuffer; gnorm: GPUBuffer;
  convB?: GPUBuffer | null; inBias?: GPUBuffer | null; outBias?: GPUBuffer | null;
}

/** Fills `pack` (mamba2PackLayout(shape).total floats) for one layer by buffer copies recorded into `encoder`. */
export function buildMamba2Pack(encoder: GPUCommandEncoder, s: Mamba2DecodeShape, p: Mamba2LayerParams, pack: GPUBuffer): void {
  const L = mamba2PackLayout(s);
  const { dIn, cd, proj } = dims(s);
  if (pack.size < L.total * 4) throw new Error(`mamba2 pack: buffer has ${pack.size} bytes, layout needs ${L.total * 4}`);
  const copy = (src: GPUBuffer | null | undefined, at: number, floats: number, what: string) => {
    if (!src) throw new Error(`mamba2 pack: ${what} missing`);
    if (src.size < floats * 4) throw new Error(`mamba2 pack: ${what} has ${src.size} bytes, needs ${floats * 4}`);
    encoder.copyBufferToBuffer(src, 0, pack, at * 4, floats * 4);
  };
  copy(p.aLog, L.ssd, s.h, 'A_log');
  copy(p.D, L.ssd + s.h, s.h, 'D');
  copy(p.dtBias, L.ssd + 2 * s.h, s.h, 'dt_bias');
  copy(p.norm, L.norm, s.d, 'norm weight');
  copy(p.convW, L.convW, cd * s.k, 'conv weight');
  if (s.convBias) copy(p.convB, L.convB, cd, 'conv bias');
  if (s.inBias) copy(p.inBias, L.inBias, proj, 'in_proj bias');
  if (s.outBias) copy(p.outBias, L.outBias, s.d, 'out_proj bias');
  copy(p.gnorm, L.gnorm, dIn, 'gated norm weight');
}

function checkShape(s: Mamba2DecodeShape): void {
  for (const k of ['d', 'h', 'p', 'n', 'g', 'k'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`mamba2 decode: ${k} = ${s[k]} must be a positive integer`);
  }
  if (s.h % s.g) throw new Error(`mamba2 decode: ${s.h} heads do not split into ${s.g} groups`);
  if (s.k > 64) throw new Error(`mamba2 decode: conv width ${s.k} > 64`);
}

const need = (what: string, b: GPUBuffer, floats: number) => {
  if (b.size < floats * 4) throw new Error(`${what}: needs ${floats} floats, buffer holds ${b.size / 4}`);
};
const f32Limit = (v: number) => (v === Infinity ? 3.0e38 : v);
const gridOf = (ctx: GpuContext, groups: number): [number, number] => {
  const gx = Math.min(groups, ctx.limits.maxComputeWorkgroupsPerDimension);
  return [gx, Math.ceil(groups / gx)];
};

export interface Mamba2InIO {
  acts: GPUBuffer;      // mamba2ActsLayout
  w: GPUBuffer;         // in_proj weight [dIn + cd + h, d]
  pack: GPUBuffer;      // mamba2PackLayout
  convState: GPUBuffer; // [k−1, cd]
}

export class Mamba2DecodeIn {
  readonly kernel: ComputeKernel;
  private readonly grid: [number, number];
  readonly layout: Mamba2PackLayout;
  readonly acts: Mamba2ActsLayout;

  constructor(ctx: GpuContext, readonly shape: Mamba2DecodeShape) {
    checkShape(shape);
    const { dIn, cd, proj } = dims(shape);
    this.layout = mamba2PackLayout(shape);
    this.acts = mamba2ActsLayout(shape);
    const plan = DecodeMatvec.plan(ctx, shape.d, proj, shape.dtype);
    this.grid = gridOf(ctx, Math.ceil(proj / plan.rows));
    const L = this.layout;
    this.kernel = new ComputeKernel(ctx, 'mamba2_decode_in', { include: DecodeMatvec.include(plan.sg), constants: {
      ...plan.constants, ROWS_ALL: proj, CD: cd, CONV_OFF: dIn, KC: shape.k, EPS: shape.eps,
      HAS_IN_BIAS: shape.inBias ? 1 : 0, HAS_CONV_BIAS: shape.convBias ? 1 : 0,
      NORM_OFF: L.norm, CONVW_OFF: L.convW, CONVB_OFF: L.convB, INB_OFF: L.inBias, HID_OFF: this.acts.hidden, ZX_OFF: this.acts.zxbcdt,
    } });
  }

  private buffers(io: Mamba2InIO): Binding[] {
    const { d, k, dtype } = this.shape;
    const { cd, proj } = dims(this.shape);
    const what = 'mamba2_decode_in';
    need(`${what} acts`, io.acts, this.acts.total);
    need(`${what} in_proj weight`, io.w, Math.ceil(proj * d * (dtype === 'f16' ? 0.5 : 1)));
    need(`${what} pack`, io.pack, this.layout.total);
    need(`${what} conv state`, io.convState, Math.max(1, cd * (k - 1)));
    if (io.acts === io.convState) throw new Error(`${what}: acts and conv state must be distinct buffers`);
    return [io.acts, io.w, io.pack, io.convState];
  }

  encode(pass: GPUComputePassEncoder, io: Mamba2InIO): void {
    this.kernel.dispatch(pass, null, this.buffers(io), this.grid);
  }

  bind(io: Mamba2InIO): { group: GPUBindGroup; grid: [number, number] } {
    return { group: this.kernel.bindGroup(null, this.buffers(io)), grid: this.grid };
  }
}

export interface Mamba2SsmIO {
  acts: GPUBuffer;
  pack: GPUBuffer;
  state: GPUBuffer; // [h·p, n]
}

export class Mamba2DecodeSsm {
  readonly kernel: ComputeKernel;
  private readonly groups: number;
  readonly layout: Mamba2PackLayout;
  readonly acts: Mamba2ActsLayout;

  constructor(ctx: GpuContext, readonly shape: Mamba2DecodeShape) {
    checkShape(shape);
    const { dIn } = dims(shape);
    this.layout = mamba2PackLayout(shape);
    this.acts = mamba2ActsLayout(shape);
    // threads per channel: enough for the state (a power of two, at most 32)
    const lanes = Math.min(32, 2 ** Math.ceil(Math.log2(shape.n)));
    const cpw = 256 / lanes;
    this.groups = Math.ceil(dIn / cpw);
    if (this.groups > ctx.limits.maxComputeWorkgroupsPerDimension) throw new Error(`mamba2 decode: ${this.groups} workgroups exceed the dispatch limit`);
    if (this.layout.ssd !== 0) throw new Error('internal: the SSD parameters must open the pack');
    this.kernel = new ComputeKernel(ctx, 'mamba2_decode_ssm', { constants: {
      NS: shape.n, HEADS: shape.h, PD: shape.p, HPG: shape.h / shape.g, GR: shape.g, DIN: dIn, LANES: lanes, CPW: cpw,
      ZX_OFF: this.acts.zxbcdt, Y_OFF: this.acts.y, LO: shape.dtLimit[0], HI: f32Limit(shape.dtLimit[1]),
    } });
  }

  private buffers(io: Mamba2SsmIO): Binding[] {
    const { h, p, n } = this.shape;
    const what = 'mamba2_decode_ssm';
    need(`${what} acts`, io.acts, this.acts.total);
    need(`${what} pack`, io.pack, this.layout.total);
    need(`${what} state`, io.state, h * p * n);
    if (io.acts === io.state) throw new Error(`${what}: acts and state must be distinct buffers`);
    return [io.acts, io.pack, io.state];
  }

  encode(pass: GPUComputePassEncoder, io: Mamba2SsmIO): void {
    this.kernel.dispatch(pass, null, this.buffers(io), [this.groups]);
  }

  bind(io: Mamba2SsmIO): { group: GPUBindGroup; grid: [number, number] } {
    return { group: this.kernel.bindGroup(null, this.buffers(io)), grid: [this.groups, 1] };
  }
}

export interface Mamba2OutIO {
  acts: GPUBuffer;
  w: GPUBuffer;   // out_proj weight [d, dIn]
  pack: GPUBuffer;
}

export class Mamba2DecodeOut {
  readonly kernel: ComputeKernel;
  private readonly grid: [number, number];
  readonly layout: Mamba2PackLayout;
  readonly acts: Mamba2ActsLayout;

  constructor(ctx: GpuContext, readonly shape: Mamba2DecodeShape) {
    checkShape(shape);
    const { dIn } = dims(shape);
    this.layout = mamba2PackLayout(shape);
    this.acts = mamba2ActsLayout(shape);
    const plan = DecodeMatvec.plan(ctx, dIn, shape.d, shape.outDtype, { reserveShared: 4 * shape.g });
    this.grid = gridOf(ctx, Math.ceil(shape.d / plan.rows));
    const L = this.layout;
    this.kernel = new ComputeKernel(ctx, 'mamba2_decode_out', { include: DecodeMatvec.include(plan.sg), constants: {
      ...plan.constants, D: shape.d, GR: shape.g, EPS: shape.eps, HAS_OUT_BIAS: shape.outBias ? 1 : 0,
      GN_OFF: L.gnorm, OUTB_OFF: L.outBias, HID_OFF: this.acts.hidden, ZX_OFF: this.acts.zxbcdt, Y_OFF: this.acts.y,
    } });
  }

  private buffers(io: Mamba2OutIO): Binding[] {
    const { d, outDtype } = this.shape;
    const { dIn } = dims(this.shape);
    const what = 'mamba2_decode_out';
    need(`${what} acts`, io.acts, this.acts.total);
    need(`${what} out_proj weight`, io.w, Math.ceil(d * dIn * (outDtype === 'f16' ? 0.5 : 1)));
    need(`${what} pack`, io.pack, this.layout.total);
    return [io.acts, io.w, io.pack];
  }

  encode(pass: GPUComputePassEncoder, io: Mamba2OutIO): void {
    this.kernel.dispatch(pass, null, this.buffers(io), this.grid);
  }

  bind(io: Mamba2OutIO): { group: GPUBindGroup; grid: [number, number] } {
    return { group: this.kernel.bindGroup(null, this.buffers(io)), grid: this.grid };
  }
}
