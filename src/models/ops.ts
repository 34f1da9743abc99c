/**
 * The operations the models are written in, each one GPU kernel (or a short fixed sequence of them) recorded into
 * a compute pass. This is the seam between the models (which read like the papers) and the kernel wrappers in
 * src/kernels (which know bindings, uniforms and dispatch sizes). KernelOps (./kernel-ops.ts) implements it.
 */
import type { Param, View, Weight } from './tensor';
import type { SamplerKernel } from '../kernels/sampling';
import type { AttentionVariant, SamplingOptions, ScanVariant } from './types';

export interface ScanArgs {
  u: View;        // (l, dIn)   input after conv + SiLU
  delta: View;    // (l, dIn)   dt_proj output, before bias and softplus
  z: View;        // (l, dIn)   gate
  B: View;        // (l, n)
  C: View;        // (l, n)
  y: View;        // (l, dIn)   output
  Alog: Param;    // (dIn, n)
  D: Param;       // (dIn)
  deltaBias: Param; // (dIn)
  state: GPUBuffer; // (dIn, n) read as the initial state, overwritten with the final state
  n: number;
}

/** Mamba-2's SSM over l tokens (src/kernels/ssd.ts). */
export interface SsdArgs {
  x: View;        // (l, h·p)   views of ONE buffer with one row stride (the conv output x | B | C)
  B: View;        // (l, g·n)
  C: View;        // (l, g·n)
  dt: View;       // (l, h)     raw Δ, before dt_bias, softplus and the clamp
  params: GPUBuffer; // [A_log (h) | D (h) | dt_bias (h)]
  dtLimit: [number, number];
  y: View;        // (l, h·p)   output (before the gate and norm)
  state: GPUBuffer; // (h, p, n) read as the initial state, overwritten with the final state
  heads: number; headDim: number; n: number; groups: number;
}

/** A run of floats in a buffer, from `offset` (in floats). */
export interface VecOut {
  buffer: GPUBuffer;
  offset: number;
}

export interface CacheGeometry {
  capacity: number;   // positions per head in the cache buffers
  heads: number;
  headDim: number;
  rotaryDims: number;
  ropeTheta: number;
}

export interface Ops {
  /** out[t, :] = E[history[pos + t], :] */
  embed(pass: GPUComputePassEncoder, history: GPUBuffer, pos: number, l: number, E: Weight, out: View): void;
  rmsNorm(pass: GPUComputePassEncoder, x: View, w: Param, out: View, eps: number): void;
  layerNorm(pass: GPUComputePassEncoder, x: View, w: Param, b: Param, out: View, eps: number): void;
  /** out = x·Wᵀ + b, or out += x·Wᵀ + b when accumulate. Uses matrix-vector kernels when x has one row. */
  linear(pass: GPUComputePassEncoder, x: View, W: Weight, b: Param | null, out: View, accumulate?: boolean): void;
  /** In place: x = GELU(x) (exact erf form). */
  gelu(pass: GPUComputePassEncoder, x: View): void;
  /** Columns of the conv state buffer per channel for a conv of width k. */
  convStateWidth(k: number): number;
  /** out = SiLU(causal depthwise conv1d(x) + b), continuing from and updating the conv state. */
  conv1d(pass: GPUComputePassEncoder, x: View, w: Param, b: Param | null, out: View, state: GPUBuffer, k: number): void;
  conv1dStep(pass: GPUComputePassEncoder, x: View, w: Param, b: Param | null, out: View, state: GPUBuffer, k: number): void;
  scan(pass: GPUComputePassEncoder, variant: ScanVariant, a: ScanArgs): void;
  ssmStep(pass: GPUComputePassEncoder, a: ScanArgs): void;
  /** Mamba-2: y = SSD(x, Δ, A, B, C) + D·x, the state carried in a.state ('unfused' runs the sequential form). */
  ssd(pass: GPUComputePassEncoder, variant: ScanVariant, a: SsdArgs): void;
  /** Mamba-2's gated norm: out = rmsnorm_group(y ⊙ SiLU(z)) ⊙ w over `groups` groups of y.cols / groups channels. */
  gatedNorm(pass: GPUComputePassEncoder, y: View, z: View, w: Param, out: View, groups: number, eps: number): void;
  /** Rotary on q and k of qkv rows (positions pos ..), writes K and V into the caches at those positions. */
  rotaryKv(pass: GPUComputePassEncoder, qkv: View, kCache: GPUBuffer, vCache: GPUBuffer, pos: number, g: CacheGeometry): void;
  /** Causal attention of the l query rows (positions pos ..) over cache positions [0, pos + l). */
  attention(pass: GPUComputePassEncoder, variant: AttentionVariant, qkv: View, kCache: GPUBuffer, vCache: GPUBuffer, pos: number, g: CacheGeometry, out: View): void;
  decodeAttention(pass: GPUComputePassEncoder, qkv: View, kCache: GPUBuffer, vCache: GPUBuffer, pos: number, g: CacheGeometry, out: View): void;
  /** Selectivity view: out[t] = mean_c softplus(delta[t, c] + bias[c]) for the rows of delta (each clamped into
   *  limit when given: Mamba-2's time_step_limit). */
  deltaMean(pass: GPUComputePassEncoder, delta: View, bias: Param, out: VecOut, limit?: [number, number]): void;
  /** Selectivity view: the attention weights of qkv's last query row (position pos + qkv.rows − 1) over the cache
   *  positions 0 .. pos + qkv.rows − 1, averaged over heads. */
  attentionRow(pass: GPUComputePassEncoder, qkv: View, kCache: GPUBuffer, pos: number, g: CacheGeometry, out: VecOut): void;
  /** Samples from logits (one row) and writes the id into ids[index]; step seeds the random draw (u = hash(seed, step)). */
  sample(pass: GPUComputePassEncoder, logits: View, ids: GPUBuffer, index: number, s: SamplingOptions, step: number): void;
  /** The sampler the recorded decode step binds (non-finite logits give its NON_FINITE_TOKEN). */
  sampler(): SamplerKernel;
  /** Releases the buffers the ops made for themselves (the model calls it from dispose()). */
  destroy(): void;
}
