/**
 * A whole GPT-NeoX layer's decode as one pipeline (shaders/neox_decode_layer.wgsl): one bind group per layer and four
 * dispatches (five with the sequential residual) whose grids select the stage: LayerNorm + QKV (+ LayerNorm₂ + MLP-up
 * + GELU with the parallel residual), rotary + KV append + split-K attention (grid (nsplit, H), nsplit growing with
 * the context), merge + dense + residual, (LayerNorm₂ + MLP-up + GELU), MLP-down + residual. The same math as the
 * separate kernels (decode_matvec.wgsl, attention_decode_rope_split.wgsl, attention_decode_out.wgsl), which the
 * model records instead when NeoxDecodeLayer.blocker() gives a reason.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, DispatchList, type Binding } from '../gpu/kernel';
import { AttentionDecodeSplit } from './attention_decode_fused';
import { DecodeMatvec } from './decode_matvec';
import type { WeightDType } from './matmul';

export interface NeoxDecodeShape {
  d: number;
  /** MLP width. */
  f: number;
  H: number;
  hd: number;
  rot: number;
  base: number;
  eps: number;
  parallel: boolean;
  dtype: WeightDType;
  qkvBias: boolean;
  denseBias: boolean;
}

/** Float offsets of the layer's small parameters in its pack buffer (every layer the same). */
export interface NeoxPackLayout { ln1g: number; ln1b: number; ln2g: number; ln2b: number; qkvB: number; denseB: number; upB: number; downB: number; total: number }

export function neoxPackLayout(s: { d: number; f: number }): NeoxPackLayout {
  const up4 = (n: number) => Math.ceil(n / 4) * 4;
  let o = 0;
  const take = (n: number) => { const at = o; o += up4(n); return at; };
  const ln1g = take(s.d), ln1b = take(s.d), ln2g = take(s.d), ln2b = take(s.d);
  const qkvB = take(3 * s.d), denseB = take(s.d), upB = take(s.f), downB = take(s.d);
  return { ln1g, ln1b, ln2g, ln2b, qkvB, denseB, upB, downB, total: o };
}

/** Float offsets of one decode step's activations in the single buffer the layer kernel binds. */
export interface NeoxActsLayout { x: number; qkv: number; m: number; part: number; total: number }

export interface NeoxLayerIO {
  acts: GPUBuffer;
  wQkv: GPUBuffer;
  wDense: GPUBuffer;
  wUp: GPUBuffer;
  wDown: GPUBuffer;
  pack: GPUBuffer;
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  state: GPUBuffer;
}

const WG = 256;

export class NeoxDecodeLayer {
  readonly kernel: ComputeKernel;
  readonly acts: NeoxActsLayout;
  readonly layout: NeoxPackLayout;
  readonly maxSplits: number;
  /** Grid x of the in, up (sequential only), out and down stages, distinct. */
  readonly grids: { in: number; up: number; out: number; down: number };

  private static shared(s: NeoxDecodeShape): number {
    return Math.ceil(Math.max(s.d, s.f) / 4) * 16 + 3 * WG * 4 + WG * 16 + 3 * 16 * Math.ceil(s.hd / 4) + 8 * s.H + 128;
  }

  static blocker(ctx: GpuContext, s: NeoxDecodeShape, dtypes: WeightDType[]): string | null {
    if (dtypes.some((t) => t !== s.dtype)) return 'the layer matrices differ in precision';
    if (s.H < 2) return 'one attention head (the stage is told apart by a grid with H rows)';
    if (ctx.limits.maxStorageBuffersPerShaderStage < 9) return 'fewer than 9 storage buffers per stage';
    if (ctx.limits.maxComputeInvocationsPerWorkgroup < WG) return 'fewer than 256 invocations per workgroup';
    if (Math.ceil(s.hd / 4) > WG) return `head dim ${s.hd}`;
    if (NeoxDecodeLayer.shared(s) > ctx.limits.maxComputeWorkgroupStorageSize) return 'the MLP width does not fit workgroup memory';
    return null;
  }

  constructor(ctx: GpuContext, readonly shape: NeoxDecodeShape) {
    const { d, f, H, hd, rot } = shape;
    const t = shape.dtype;
    this.layout = neoxPackLayout(shape);
    this.maxSplits = Math.min(Math.max(1, Math.ceil(288 / H)), ctx.limits.maxComputeWorkgroupsPerDimension);
    const up4 = (n: number) => Math.ceil(n / 4) * 4;
    const qkv = up4(d), m = qkv + up4(3 * d), part = m + up4(f);
    this.acts = { x: 0, qkv, m, part, total: part + H * this.maxSplits * (hd + 2) };
    const pin = DecodeMatvec.plan(ctx, d, 3 * d + f, t);
    const pout = DecodeMatvec.plan(ctx, d, d, t);
    const pdown = DecodeMatvec.plan(ctx, f, d, t);
    const rowsIn = WG / pin.lanes;
    const gin = Math.ceil((3 * d) / rowsIn) + (shape.parallel ? Math.ceil(f / rowsIn) : 0);
    const g = [gin, shape.parallel ? 0 : Math.ceil(f / rowsIn), Math.ceil(d / (WG / pout.lanes)), Math.ceil(d / (WG / pdown.lanes))];
    // distinct grid sizes (padding workgroups exit at once); with the parallel residual there is no up stage and
    // G_UP = 0 never matches a grid
    const active = shape.parallel ? [0, 2, 3] : [0, 1, 2, 3];
    for (let a = 1; a < active.length; a++) {
      const i = active[a];
      while (active.slice(0, a).some((j) => g[j] === g[i])) g[i]++;
    }
    const max = ctx.limits.maxComputeWorkgroupsPerDimension;
    if (g.some((x) => x > max)) throw new Error(`neox decode layer: a stage needs more than ${max} workgroups`);
    this.grids = { in: g[0], up: g[1], out: g[2], down: g[3] };
    const vec = (K: number) => ((t === 'f16' ? K % 8 === 0 : K % 4 === 0) ? 1 : 0);
    const L = this.layout;
    this.kernel = new ComputeKernel(ctx, 'neox_decode_layer', { constants: {
      WG, W_F16: t === 'f16' ? 1 : 0, STAGED: 1, XS4: Math.ceil(Math.max(d, f) / 4),
      D: d, F: f, H, HD: hd, ROT: rot, LOG2BASE: Math.log2(shape.base), EPS: shape.eps, PARALLEL: shape.parallel ? 1 : 0,
      HAS_QKV_BIAS: shape.qkvBias ? 1 : 0, HAS_DENSE_BIAS: shape.denseBias ? 1 : 0,
      LN1G: L.ln1g, LN1B: L.ln1b, LN2G: L.ln2g, LN2B: L.ln2b, QKVB: L.qkvB, DENSEB: L.denseB, UPB: L.upB, DOWNB: L.downB,
      X_OFF: this.acts.x, QKV_OFF: qkv, M_OFF: m, PART_OFF: part,
      LANES_IN: pin.lanes, LANES_OUT: pout.lanes, LANES_DOWN: pdown.lanes, VEC_D: vec(d), VEC_F: vec(f),
      G_IN: g[0], G_UP: g[1], G_OUT: g[2], G_DOWN: g[3],
    } });
  }

  /** Key chunks per head for the token at position pos (as AttentionDecodeSplit). */
  splitsFor(pos: number): number {
    return Math.min(this.maxSplits, Math.max(1, Math.ceil((pos + 1) / AttentionDecodeSplit.MIN_CHUNK)));
  }

  private buffers(io: NeoxLayerIO): Binding[] {
    const { d, f, dtype } = this.shape;
    const what = 'neox_decode_layer';
    const need = (b: GPUBuffer, floats: number, name: string) => {
      if (b.size < floats * 4) throw new Error(`${what}: ${name} needs ${floats} floats, buffer holds ${b.size / 4}`);
    };
    const per = dtype === 'f16' ? 0.5 : 1;
    need(io.acts, this.acts.total, 'acts');
    need(io.wQkv, Math.ceil(3 * d * d * per), 'QKV weight');
    need(io.wDense, Math.ceil(d * d * per), 'dense weight');
    need(io.wUp, Math.ceil(f * d * per), 'MLP-up weight');
    need(io.wDown, Math.ceil(d * f * per), 'MLP-down weight');
    need(io.pack, this.layout.total, 'pack');
    need(io.state, 4, 'state');
    if (io.kCache.size !== io.vCache.size) throw new Error(`${what}: K and V caches differ in size`);
    if (new Set([io.acts, io.kCache, io.vCache, io.state]).size !== 4) throw new Error(`${what}: acts, caches and state must be distinct buffers`);
    return [io.acts, io.wQkv, io.wDense, io.wUp, io.wDown, io.pack, io.kCache, io.vCache, io.state];
  }

  bind(io: NeoxLayerIO): GPUBindGroup {
    return this.kernel.bindGroup(null, this.buffers(io));
  }

  /** Appends the layer's stages: in, split (grid grows with the position), out, [up], down. */
  record(list: DispatchList, group: GPUBindGroup): void {
    const g = this.grids;
    list.add(this.kernel, group, [g.in]);
    list.add(this.kernel, group, [1, this.shape.H], (pos) => this.splitsFor(pos));
    list.add(this.kernel, group, [g.out]);
    if (!this.shape.parallel) list.add(this.kernel, group, [g.up]);
    list.add(this.kernel, group, [g.down]);
  }

  /** Records the layer for the token at `pos` (the state buffer must hold pos and the cache length). */
  encode(pass: GPUComputePassEncoder, io: NeoxLayerIO, pos: number): void {
    const list = new DispatchList();
    this.record(list, this.bind(io));
    list.replay(pass, pos);
  }
}
