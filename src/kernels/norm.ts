/**
 * Row-wise normalisations over [L, d] (shaders/rmsnorm.wgsl, shaders/layernorm.wgsl), one workgroup per row, each
 * with an optional fused residual add: `addNorm` does r += x; y = norm(r) (HF Mamba: hidden = residual + mixer_out,
 * then the next layer's norm; the same for GPT-NeoX's sequential residual). Weights/biases are f32 [d] buffers.
 * All views are strided ({buffer, offset, rowStride} in floats); y must be a different buffer from x and r.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import type { UniformValues } from '../gpu/uniforms';
import { asView, checkView, dummyBuffer, type MatView, type ViewLike } from './matmul';

function grid(L: number): [number, number] {
  return [Math.min(L, 32768), Math.ceil(L / 32768)];
}

function wgFor(ctx: GpuContext, wg?: number): number {
  // a CPU adapter pays per invocation at each of the reduction's barriers: 32 threads per row there
  const w = Math.min(wg ?? (ctx.cpuTiling ? 32 : 256), ctx.limits.maxComputeInvocationsPerWorkgroup);
  if (w & (w - 1)) throw new Error(`norm: workgroup size ${w} must be a power of two`);
  return w;
}

abstract class RowNorm {
  protected readonly plain: ComputeKernel;
  protected readonly fused: ComputeKernel;
  constructor(protected readonly ctx: GpuContext, shader: string, readonly d: number, readonly eps: number, wg?: number) {
    const WG = wgFor(ctx, wg);
    this.plain = new ComputeKernel(ctx, shader, { constants: { WG, ADD_RESIDUAL: 0 } });
    this.fused = new ComputeKernel(ctx, shader, { constants: { WG, ADD_RESIDUAL: 1 } });
  }

  protected uniforms(L: number, xv: Required<MatView>, rv: Required<MatView>, yv: Required<MatView>): UniformValues {
    return {
      L, d: this.d, eps: this.eps, xOff: xv.offset, xStride: xv.rowStride, rOff: rv.offset, rStride: rv.rowStride,
      yOff: yv.offset, yStride: yv.rowStride,
    };
  }

  protected views(what: string, L: number, x: ViewLike, y: ViewLike, r?: ViewLike) {
    if (!(L >= 1 && Number.isInteger(L))) throw new Error(`${what}: L = ${L} must be a positive integer`);
    const xv = asView(x, this.d);
    const yv = asView(y, this.d);
    checkView(`${what} x`, xv, L, this.d);
    checkView(`${what} y`, yv, L, this.d);
    if (yv.buffer === xv.buffer) throw new Error(`${what}: y must be a different buffer from x`);
    let rv = { buffer: dummyBuffer(this.ctx), offset: 0, rowStride: 0 };
    if (r) {
      rv = asView(r, this.d);
      checkView(`${what} residual`, rv, L, this.d);
      if (rv.buffer === xv.buffer || rv.buffer === yv.buffer) throw new Error(`${what}: residual must be a different buffer from x and y`);
    }
    return { xv, yv, rv };
  }

  protected checkParam(what: string, b: GPUBuffer, name: string): void {
    if (b.size < this.d * 4) throw new Error(`${what}: ${name} holds ${b.size / 4} floats, expected d = ${this.d}`);
  }
}

/** y = x / sqrt(mean(x²) + eps) · w over rows of d. */
export class RMSNormKernel extends RowNorm {
  constructor(ctx: GpuContext, d: number, eps = 1e-5, opts: { workgroupSize?: number } = {}) {
    super(ctx, 'rmsnorm', d, eps, opts.workgroupSize);
  }

  /** y[L, d] = rmsnorm(x[L, d]) · w. */
  encode(pass: GPUComputePassEncoder, x: ViewLike, w: GPUBuffer, y: ViewLike, L: number): void {
    const what = `rmsnorm L=${L} d=${this.d}`;
    this.checkParam(what, w, 'weight');
    const { xv, yv, rv } = this.views(what, L, x, y);
    this.plain.dispatch(pass, this.uniforms(L, xv, rv, yv), [xv.buffer, w, rv.buffer, yv.buffer], grid(L));
  }

  /** residual += x; y = rmsnorm(residual) · w (residual updated in place). */
  encodeAdd(pass: GPUComputePassEncoder, x: ViewLike, residual: ViewLike, w: GPUBuffer, y: ViewLike, L: number): void {
    const what = `add+rmsnorm L=${L} d=${this.d}`;
    this.checkParam(what, w, 'weight');
    const { xv, yv, rv } = this.views(what, L, x, y, residual);
    this.fused.dispatch(pass, this.uniforms(L, xv, rv, yv), [xv.buffer, w, rv.buffer, yv.buffer], grid(L));
  }
}

/** y = (x − mean) / sqrt(var + eps) · w + b over rows of d (torch.nn.LayerNorm, biased variance). */
export class LayerNormKernel extends RowNorm {
  constructor(ctx: GpuContext, d: number, eps = 1e-5, opts: { workgroupSize?: number } = {}) {
    super(ctx, 'layernorm', d, eps, opts.workgroupSize);
  }

  encode(pass: GPUComputePassEncoder, x: ViewLike, w: GPUBuffer, b: GPUBuffer, y: ViewLike, L: number): void {
    const what = `layernorm L=${L} d=${this.d}`;
    this.checkParam(what, w, 'weight');
    this.checkParam(what, b, 'bias');
    const { xv, yv, rv } = this.views(what, L, x, y);
    this.plain.dispatch(pass, this.uniforms(L, xv, rv, yv), [xv.buffer, w, b, rv.buffer, yv.buffer], grid(L));
  }

  /** residual += x; y = layernorm(residual) · w + b (residual updated in place). */
  encodeAdd(pass: GPUComputePassEncoder, x: ViewLike, residual: ViewLike, w: GPUBuffer, b: GPUBuffer, y: ViewLike, L: number): void {
    const what = `add+layernorm L=${L} d=${this.d}`;
    this.checkParam(what, w, 'weight');
    this.checkParam(what, b, 'bias');
    const { xv, yv, rv } = this.views(what, L, x, y, residual);
    this.fused.dispatch(pass, this.uniforms(L, xv, rv, yv), [xv.buffer, w, b, rv.buffer, yv.buffer], grid(L));
  }
}
