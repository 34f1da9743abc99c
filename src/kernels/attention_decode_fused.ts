/**
 * GPT-NeoX decode attention in two fused passes (one token at position pos, read on the GPU from the decode state):
 *   AttentionDecodeSplit (shaders/attention_decode_rope_split.wgsl): rotary on q and k, K/V appended to the cache at
 *     pos, split-K partial softmax·V per (chunk, head). Its grid x (the number of key chunks) grows with the context:
 *     splitsFor(pos) gives it, a function the recorded decode step calls for each token.
 *   AttentionDecodeOut (shaders/attention_decode_out.wgsl): merges the partials per head and applies the output
 *     projection (dense) with its bias and the residual add, x += dense(attention).
 * The decode state buffer is u32 [pos, nsplit, maxLen, 0]: the CPU writes pos and maxLen (the cache rows per head)
 * once per submit, the sampler advances pos after each token, the split pass writes nsplit for the out pass.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, type Binding } from '../gpu/kernel';
import { DecodeMatvec } from './decode_matvec';
import { dummyBuffer, type WeightDType } from './matmul';

export interface AttentionDecodeShape {
  H: number;
  hd: number;
  /** Rotated dims per head (even, ≤ hd). */
  rot: number;
  /** rope_theta. */
  base: number;
}

/** Keys per chunk at least; chunks at most TARGET / H per head (enough workgroups to fill a large GPU). */
const MIN_CHUNK = 64;
const TARGET_WORKGROUPS = 288;

export class AttentionDecodeSplit {
  readonly kernel: ComputeKernel;
  /** Largest number of key chunks per head (sizes the partials buffer). */
  readonly maxSplits: number;
  static readonly WG = 128;
  static readonly MIN_CHUNK = MIN_CHUNK;

  constructor(ctx: GpuContext, readonly shape: AttentionDecodeShape) {
    const { H, hd, rot, base } = shape;
    if (!Number.isInteger(H) || H < 1 || !Number.isInteger(hd) || hd < 1) throw new Error(`decode attention: H = ${H}, hd = ${hd} must be positive integers`);
    if (Math.ceil(hd / 4) > AttentionDecodeSplit.WG) throw new Error(`decode attention: head dim ${hd} > ${4 * AttentionDecodeSplit.WG} is not supported`);
    if (!(rot % 2 === 0 && rot >= 0 && rot <= hd)) throw new Error(`decode attention: rotary dims ${rot} must be even and ≤ hd = ${hd}`);
    if (H > ctx.limits.maxComputeWorkgroupsPerDimension) throw new Error(`decode attention: ${H} heads exceed the grid limit`);
    this.maxSplits = Math.min(Math.max(1, Math.ceil(TARGET_WORKGROUPS / H)), ctx.limits.maxComputeWorkgroupsPerDimension);
    this.kernel = new ComputeKernel(ctx, 'attention_decode_rope_split', { constants: { H, HD: hd, ROT: rot, LOG2BASE: Math.log2(base) } });
  }

  /** Key chunks per head for the token at position pos. */
  splitsFor(pos: number): number {
    return Math.min(this.maxSplits, Math.max(1, Math.ceil((pos + 1) / MIN_CHUNK)));
  }

  /** Floats of the partials buffer [H, maxSplits, hd + 2]. */
  get partFloats(): number {
    return this.shape.H * this.maxSplits * (this.shape.hd + 2);
  }

  private buffers(io: SplitIO): Binding[] {
    const { H, hd } = this.shape;
    const what = 'decode attention split';
    if (io.qkv.size < 3 * H * hd * 4) throw new Error(`${what}: qkv needs ${3 * H * hd} floats`);
    if (io.part.size < this.partFloats * 4) throw new Error(`${what}: partials need ${this.partFloats} floats`);
    if (io.state.size < 16) throw new Error(`${what}: state needs 4 u32`);
    if (io.kCache.size !== io.vCache.size) throw new Error(`${what}: K and V caches differ in size`);
    if (new Set([io.qkv, io.kCache, io.vCache, io.part, io.state]).size !== 5) throw new Error(`${what}: buffers must be distinct`);
    return [io.qkv, io.kCache, io.vCache, io.part, io.state];
  }

  /** Records the pass for the token at `pos` (the state buffer must hold the same pos and the cache length). */
  encode(pass: GPUComputePassEncoder, io: SplitIO, pos: number): void {
    this.kernel.dispatch(pass, null, this.buffers(io), [this.splitsFor(pos), this.shape.H]);
  }

  bind(io: SplitIO): { group: GPUBindGroup; grid: [number, number]; dynamicX: (pos: number) => number } {
    return { group: this.kernel.bindGroup(null, this.buffers(io)), grid: [1, this.shape.H], dynamicX: (pos) => this.splitsFor(pos) };
  }
}

export interface SplitIO {
  qkv: GPUBuffer;    // [H, 3, hd] at offset 0
  kCache: GPUBuffer; // [H, maxLen, hd]
  vCache: GPUBuffer;
  part: GPUBuffer;   // partials
  state: GPUBuffer;  // u32 [pos, nsplit, maxLen, 0]
}

export interface OutIO {
  part: GPUBuffer;
  state: GPUBuffer;
  w: GPUBuffer;      // dense weight [d, d] (single block)
  pack?: GPUBuffer | null; // holds the dense bias at biasOff
  x: GPUBuffer;      // residual [d], += dense(att) + bias
}

export class AttentionDecodeOut {
  readonly kernel: ComputeKernel;
  readonly rows: number;
  private readonly grid: [number, number];
  private readonly d: number;
  private readonly dummy: GPUBuffer;

  constructor(ctx: GpuContext, readonly shape: AttentionDecodeShape & { dtype: WeightDType; bias: boolean; biasOff?: number }) {
    const { H, hd } = shape;
    const d = H * hd;
    this.d = d;
    this.dummy = dummyBuffer(ctx);
    const plan = DecodeMatvec.plan(ctx, d, d, shape.dtype, { reserveShared: 8 * H });
    if (!plan.staged) throw new Error(`decode attention out: d = ${d} needs ${d * 4} bytes of workgroup memory, the device allows ${ctx.limits.maxComputeWorkgroupStorageSize}`);
    this.rows = plan.rows;
    const groups = Math.ceil(d / plan.rows);
    const gx = Math.min(groups, ctx.limits.maxComputeWorkgroupsPerDimension);
    this.grid = [gx, Math.ceil(groups / gx)];
    this.kernel = new ComputeKernel(ctx, 'attention_decode_out', { include: DecodeMatvec.include(plan.sg), constants: {
      ...plan.constants, N: d, H, HD: hd, HAS_BIAS: shape.bias ? 1 : 0, BIAS_OFF: shape.biasOff ?? 0,
    } });
  }

  private buffers(io: OutIO): Binding[] {
    const d = this.d;
    const what = 'decode attention out';
    if (io.w.size < d * d * (this.shape.dtype === 'f16' ? 2 : 4)) throw new Error(`${what}: dense weight needs ${d}×${d} ${this.shape.dtype}`);
    if (io.x.size < d * 4) throw new Error(`${what}: x needs ${d} floats`);
    if (this.shape.bias && (!io.pack || io.pack.size < ((this.shape.biasOff ?? 0) + d) * 4)) throw new Error(`${what}: dense bias missing from the pack`);
    return [io.part, io.state, io.w, io.pack ?? this.dummy, io.x];
  }

  encode(pass: GPUComputePassEncoder, io: OutIO): void {
    this.kernel.dispatch(pass, null, this.buffers(io), this.grid);
  }

  bind(io: OutIO): { group: GPUBindGroup; grid: [number, number] } {
    return { group: this.kernel.bindGroup(null, this.buffers(io)), grid: this.grid };
  }
}
