/**
 * One decode step of the Mamba v1 SSM (shaders/ssm_step.wgsl), O(1) in the context: updates the state [D, N] in place
 * and writes y_t [D]. Equal to SelectiveScan applied to a single token.
 *
 * Inputs (f32 vectors at element offsets): x [D] (conv1d+SiLU output of the token), delta [D] (dt_proj output without
 * bias), B [N], C [N] (views of the x_proj output row: offsets R and R+N, same buffer), z [D] optional gate (in_proj
 * output at offset D), params packed [A | Dskip | deltaBias] (./ssm_params.ts). state [D, N] read-write; y [D] output.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import { ssmParamsLength } from './ssm_params';

export interface VecView {
  buffer: GPUBuffer;
  offset?: number;
}

export interface SsmStepIO {
  x: VecView;
  delta: VecView;
  B: VecView;
  C: VecView;
  z?: VecView | null;
  params: GPUBuffer;
  state: GPUBuffer;
  y: VecView;
}

export class SsmStep {
  readonly D: number;
  readonly N: number;
  private readonly k: ComputeKernel;
  private readonly dummy: GPUBuffer;

  constructor(private readonly ctx: GpuContext, opts: { D: number; N: number }) {
    const { D, N } = opts;
    if (!Number.isInteger(D) || D < 1) throw new Error(`SsmStep: D = ${D} must be a positive integer`);
    if (!Number.isInteger(N) || N < 1 || N > 256) throw new Error(`SsmStep: N = ${N} must be an integer in [1, 256]`);
    this.D = D;
    this.N = N;
    this.k = new ComputeKernel(ctx, 'ssm_step', { consts: { NS: N } });
    this.dummy = ctx.buffer(16, 'scratch', 'ssm-step-dummy');
  }

  encode(pass: GPUComputePassEncoder, io: SsmStepIO): void {
    const { D, N } = this;
    const chk = (what: string, v: VecView, n: number): number => {
      const off = v.offset ?? 0;
      if (!Number.isInteger(off) || off < 0) throw new Error(`ssm_step ${what}: offset ${off} must be a non-negative integer`);
      if ((off + n) * 4 > v.buffer.size) throw new Error(`ssm_step ${what}: [${n}] at offset ${off} needs ${(off + n) * 4} bytes; buffer has ${v.buffer.size}`);
      return off;
    };
    const xOff = chk('x', io.x, D);
    const dOff = chk('delta', io.delta, D);
    const bOff = chk('B', io.B, N);
    const cOff = chk('C', io.C, N);
    const zOff = io.z ? chk('z', io.z, D) : 0;
    const yOff = chk('y', io.y, D);
    if (io.B.buffer !== io.C.buffer) throw new Error('ssm_step: B and C must be views of the same buffer (the x_proj output)');
    if (io.params.size < ssmParamsLength(D, N) * 4) throw new Error(`ssm_step: params has ${io.params.size} bytes, needs ${ssmParamsLength(D, N) * 4}`);
    if (io.state.size < D * N * 4) throw new Error(`ssm_step: state has ${io.state.size} bytes, needs ${D * N * 4}`);
    const inputs = [io.x.buffer, io.delta.buffer, io.B.buffer, io.z?.buffer, io.params];
    if (inputs.includes(io.y.buffer) || inputs.includes(io.state) || io.y.buffer === io.state) {
      throw new Error('ssm_step: y and state must be distinct buffers, not shared with an input');
    }
    const cpw = Math.floor(256 / N);
    this.k.dispatch(
      pass,
      { D, xOff, dOff, zOff, bOff, cOff, yOff, hasZ: io.z ? 1 : 0 },
      [io.x.buffer, io.delta.buffer, io.z?.buffer ?? this.dummy, io.B.buffer, io.params, io.state, io.y.buffer],
      [Math.ceil(D / cpw)],
    );
  }

  destroy(): void {
    this.ctx.pool.release(this.dummy);
  }
}
