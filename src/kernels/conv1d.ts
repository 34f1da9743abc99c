/**
 * Mamba's causal depthwise conv1d with bias and optional fused SiLU: prefill (shaders/causal_conv1d.wgsl, plus
 * shaders/causal_conv1d_state.wgsl for the decode state) and the one-token step (shaders/causal_conv1d_step.wgsl).
 *
 * Layouts (f32):
 *   x      [L, D] strided view (element offset, rowStride), e.g. the x half of in_proj output: offset 0, rowStride 2D
 *   weight [D, K]  (HF Conv1d weight [D, 1, K] flattened)
 *   bias   [D]     optional
 *   out    [L, D] strided view (rowStride defaults to D); must not share a buffer with x or the state
 *   state  [K−1, D] token-major, row j = the input at position j − (K−1) relative to the next token (oldest first;
 *          row K−2 is the latest input). Zero-filled = "no previous tokens". (HF keeps [D, K]; ours drops the slot the
 *          step overwrites anyway and is coalesced across channels.) Buffers need ≥ 16 bytes even when K = 1.
 *
 * encode(): prefill of L tokens. With `state`: reads it as the previous tokens when `initialState` is true (else
 * treats them as zero), and overwrites it with the last K−1 inputs (zeros/old state included when L < K−1).
 * encodeStep(): one token; reads and shifts `state` in place.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import { checkView, grid2d, type StridedView } from './scan';
import type { VecView } from './ssm_step';

export interface Conv1dIO {
  L: number;
  x: StridedView;
  weight: GPUBuffer;
  bias?: GPUBuffer | null;
  out: StridedView;
  state?: GPUBuffer | null;
  /** The state holds previous tokens (default false: zero left padding). */
  initialState?: boolean;
  /** Apply SiLU to the output (Mamba does; default true). */
  silu?: boolean;
}

export interface Conv1dStepIO {
  x: VecView;
  weight: GPUBuffer;
  bias?: GPUBuffer | null;
  state: GPUBuffer;
  out: VecView;
  silu?: boolean;
}

export class CausalConv1d {
  readonly D: number;
  readonly K: number;
  private readonly prefill: ComputeKernel;
  private readonly stateK: ComputeKernel;
  private readonly step: ComputeKernel;
  private readonly dummy: GPUBuffer;

  constructor(private readonly ctx: GpuContext, opts: { D: number; K: number }) {
    const { D, K } = opts;
    if (!Number.isInteger(D) || D < 1) throw new Error(`CausalConv1d: D = ${D} must be a positive integer`);
    if (!Number.isInteger(K) || K < 1 || K > 64) throw new Error(`CausalConv1d: K = ${K} must be an integer in [1, 64]`);
    this.D = D;
    this.K = K;
    this.prefill = new ComputeKernel(ctx, 'causal_conv1d');
    this.stateK = new ComputeKernel(ctx, 'causal_conv1d_state');
    this.step = new ComputeKernel(ctx, 'causal_conv1d_step');
    this.dummy = ctx.buffer(16, 'scratch', 'conv1d-dummy');
  }

  /** Floats in the conv state buffer ([K−1, D]). */
  get stateLength(): number {
    return (this.K - 1) * this.D;
  }

  private checkWeights(weight: GPUBuffer, bias: GPUBuffer | null | undefined, state: GPUBuffer | null | undefined): void {
    const { D, K } = this;
    if (weight.size < D * K * 4) throw new Error(`causal_conv1d: weight has ${weight.size} bytes, needs D·K·4 = ${D * K * 4}`);
    if (bias && bias.size < D * 4) throw new Error(`causal_conv1d: bias has ${bias.size} bytes, needs D·4 = ${D * 4}`);
    if (state && state.size < this.stateLength * 4) throw new Error(`causal_conv1d: state has ${state.size} bytes, needs (K−1)·D·4 = ${this.stateLength * 4}`);
  }

  encode(pass: GPUComputePassEncoder, io: Conv1dIO): void {
    const { D, K } = this;
    const L = io.L;
    if (!Number.isInteger(L) || L < 1) throw new Error(`causal_conv1d: L = ${L} must be a positive integer`);
    const [xOff, xStride] = checkView('causal_conv1d x', io.x, L, D, D);
    const [outOff, outStride] = checkView('causal_conv1d out', io.out, L, D, D);
    this.checkWeights(io.weight, io.bias, io.state);
    const state = io.state ?? null;
    if (io.out.buffer === io.x.buffer || (state && (io.out.buffer === state || io.x.buffer === state)) || [io.weight, io.bias].includes(io.out.buffer)) {
      throw new Error('causal_conv1d: out, x and state must be distinct buffers');
    }
    const hasState = !!state && !!io.initialState;
    const flags = (io.bias ? 1 : 0) | ((io.silu ?? true) ? 2 : 0) | (hasState ? 4 : 0);
    const g = grid2d(L * D, this.ctx.limits.maxComputeWorkgroupsPerDimension);
    this.prefill.dispatch(
      pass,
      { L, D, K, flags, xOff, xStride, outOff, outStride, stride: g.stride },
      [io.x.buffer, io.weight, io.bias ?? this.dummy, hasState && state ? state : this.dummy, io.out.buffer],
      [g.gx, g.gy],
    );
    if (state && K > 1) {
      this.stateK.dispatch(
        pass,
        { L, D, K, hasState: hasState ? 1 : 0, xOff, xStride },
        [io.x.buffer, state],
        [Math.ceil(D / 256)],
      );
    }
  }

  encodeStep(pass: GPUComputePassEncoder, io: Conv1dStepIO): void {
    const { D, K } = this;
    const xOff = io.x.offset ?? 0;
    const outOff = io.out.offset ?? 0;
    if ((xOff + D) * 4 > io.x.buffer.size) throw new Error(`causal_conv1d step x: [${D}] at offset ${xOff} exceeds its buffer (${io.x.buffer.size} bytes)`);
    if ((outOff + D) * 4 > io.out.buffer.size) throw new Error(`causal_conv1d step out: [${D}] at offset ${outOff} exceeds its buffer (${io.out.buffer.size} bytes)`);
    this.checkWeights(io.weight, io.bias, io.state);
    if (io.out.buffer === io.x.buffer || io.out.buffer === io.state || io.x.buffer === io.state) {
      throw new Error('causal_conv1d step: out, x and state must be distinct buffers');
    }
    const flags = (io.bias ? 1 : 0) | ((io.silu ?? true) ? 2 : 0);
    this.step.dispatch(
      pass,
      { D, K, flags, xOff, outOff },
      [io.x.buffer, io.weight, io.bias ?? this.dummy, io.state, io.out.buffer],
      [Math.ceil(D / 256)],
    );
  }

  destroy(): void {
    this.ctx.pool.release(this.dummy);
  }
}
