/**
 * Pointwise ops over [rows, cols] strided views (shaders/elementwise.wgsl): SiLU, softplus, exact-erf GELU, residual
 * adds (out = a + b [+ c], out += a [+ b]) and the Mamba gate out = y · SiLU(z). Every operand is a buffer or a
 * {buffer, offset, rowStride} view in floats (default stride = cols), so e.g. z can be the right half of in_proj's
 * [L, 2D] output: {buffer, offset: D, rowStride: 2D}. The output must be a different buffer from the inputs
 * (use the in-place forms instead).
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import { asView, checkView, dummyBuffer, type MatView, type ViewLike } from './matmul';

export type UnaryOp = 'silu' | 'softplus' | 'gelu';
const UNARY: Record<UnaryOp, number> = { silu: 0, softplus: 1, gelu: 2 };
const OP_ADD = 3;
const OP_GATE = 4;

export class ElementwiseKernel {
  private readonly kernels = new Map<string, ComputeKernel>();
  constructor(private readonly ctx: GpuContext) {}

  private kernel(op: number, inPlace: boolean, nin: number): ComputeKernel {
    const key = `${op}|${inPlace}|${nin}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = new ComputeKernel(this.ctx, 'elementwise', { constants: { OP: op, IN_PLACE: inPlace ? 1 : 0, NIN: nin } });
      this.kernels.set(key, k);
    }
    return k;
  }

  private run(pass: GPUComputePassEncoder, what: string, op: number, inPlace: boolean, inputs: ViewLike[], out: ViewLike, rows: number, cols: number): void {
    if (!(rows >= 1 && cols >= 1 && Number.isInteger(rows) && Number.isInteger(cols))) throw new Error(`${what}: bad shape [${rows}, ${cols}]`);
    const ov = asView(out, cols);
    checkView(`${what} out`, ov, rows, cols);
    const views: Required<MatView>[] = inputs.map((v, i) => {
      const iv = asView(v, cols);
      checkView(`${what} input ${i}`, iv, rows, cols);
      if (iv.buffer === ov.buffer) throw new Error(`${what}: input ${i} is the output buffer (use the in-place form)`);
      return iv;
    });
    const dummy = { buffer: dummyBuffer(this.ctx), offset: 0, rowStride: 0 };
    while (views.length < 3) views.push(dummy);
    const total = rows * cols;
    if (total >= 2 ** 32) throw new Error(`${what}: ${total} elements exceed u32 indexing`);
    const groups = Math.ceil(total / 256);
    const gx = Math.min(groups, 4096);
    const gy = Math.min(Math.ceil(groups / gx), this.ctx.limits.maxComputeWorkgroupsPerDimension);
    const u = {
      rows, cols, total, stride: gx * gy * 256, aOff: views[0].offset, aStride: views[0].rowStride,
      bOff: views[1].offset, bStride: views[1].rowStride, cOff: views[2].offset, cStride: views[2].rowStride,
      oOff: ov.offset, oStride: ov.rowStride,
    };
    const nin = Math.max(1, inputs.length);
    this.kernel(op, inPlace, nin).dispatch(pass, u, [views[0].buffer, views[1].buffer, views[2].buffer, ov.buffer], [gx, gy]);
  }

  /** y = op(x). */
  unary(pass: GPUComputePassEncoder, op: UnaryOp, x: ViewLike, y: ViewLike, rows: number, cols: number): void {
    this.run(pass, `${op} [${rows}, ${cols}]`, UNARY[op], false, [x], y, rows, cols);
  }

  /** x = op(x). */
  unaryInPlace(pass: GPUComputePassEncoder, op: UnaryOp, x: ViewLike, rows: number, cols: number): void {
    this.run(pass, `${op} in place [${rows}, ${cols}]`, UNARY[op], true, [], x, rows, cols);
  }

  /** out = a + b (+ c): e.g. GPT-NeoX's parallel residual h + attn + mlp. */
  add(pass: GPUComputePassEncoder, inputs: ViewLike[], out: ViewLike, rows: number, cols: number): void {
    if (inputs.length < 1 || inputs.length > 3) throw new Error(`add: 1 to 3 inputs, got ${inputs.length}`);
    this.run(pass, `add [${rows}, ${cols}]`, OP_ADD, false, inputs, out, rows, cols);
  }

  /** out += a (+ b) (+ c). */
  addInPlace(pass: GPUComputePassEncoder, out: ViewLike, inputs: ViewLike[], rows: number, cols: number): void {
    if (inputs.length < 1 || inputs.length > 3) throw new Error(`addInPlace: 1 to 3 inputs, got ${inputs.length}`);
    this.run(pass, `add in place [${rows}, ${cols}]`, OP_ADD, true, inputs, out, rows, cols);
  }

  /** out = y · SiLU(z). */
  gate(pass: GPUComputePassEncoder, y: ViewLike, z: ViewLike, out: ViewLike, rows: number, cols: number): void {
    this.run(pass, `gate [${rows}, ${cols}]`, OP_GATE, false, [y, z], out, rows, cols);
  }

  /** y = y · SiLU(z). */
  gateInPlace(pass: GPUComputePassEncoder, y: ViewLike, z: ViewLike, rows: number, cols: number): void {
    this.run(pass, `gate in place [${rows}, ${cols}]`, OP_GATE, true, [z], y, rows, cols);
  }
}
