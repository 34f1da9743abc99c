/**
 * Decode-time dense layer (M = 1): y[N] = W[N, K] · x[K] (+ bias) (+ residual | += y) (shaders/matvec.wgsl), and
 * LinearKernel, which picks matvec for M = 1 and the tiled matmul otherwise. Weights as in matmul.ts
 * (LinearWeights: f32 or packed f16, possibly split into row blocks: one dispatch per block).
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, packUniforms } from '../gpu/kernel';
import {
  MatmulKernel, asView, checkLinearArgs, checkView, dummyBuffer, epilogueFlags, FLAG_BIAS,
  type LinearEpilogue, type LinearWeights, type ViewLike,
} from './matmul';

export interface MatvecOptions {
  /** Threads per workgroup (default 256, capped by the device). */
  workgroupSize?: number;
  /** Row slots per workgroup (default 8, i.e. 32 threads per slot); workgroupSize / rows must be a power of two. */
  rowsPerWorkgroup?: number;
  /** Rows each slot handles at once (1 to 4, default 2): more weight loads in flight, x loads shared. */
  rowsPerThread?: number;
}

export class MatvecKernel {
  private readonly f32: ComputeKernel;
  private readonly f16: ComputeKernel;
  readonly wg: number;
  readonly rows: number;
  readonly rpt: number;

  constructor(private readonly ctx: GpuContext, opts: MatvecOptions = {}) {
    this.wg = Math.min(opts.workgroupSize ?? 256, ctx.limits.maxComputeInvocationsPerWorkgroup);
    this.rows = opts.rowsPerWorkgroup ?? 8;
    this.rpt = opts.rowsPerThread ?? 2;
    const tpr = this.wg / this.rows;
    if (!Number.isInteger(tpr) || tpr < 1 || (tpr & (tpr - 1))) throw new Error(`matvec: workgroupSize / rowsPerWorkgroup = ${tpr} must be a power of two`);
    if (!(this.rpt >= 1 && this.rpt <= 4 && Number.isInteger(this.rpt)) || this.rpt > tpr) throw new Error(`matvec: rowsPerThread = ${this.rpt} must be 1..4 and ≤ threads per row`);
    this.f32 = new ComputeKernel(ctx, 'matvec', 'main', { WG: this.wg, ROWS: this.rows, RPT: this.rpt, W_F16: 0 });
    this.f16 = new ComputeKernel(ctx, 'matvec', 'main', { WG: this.wg, ROWS: this.rows, RPT: this.rpt, W_F16: 1 });
  }

  /** y[yOff + n] = Σ_k W[n, k] x[xOff + k] (+ ...). x: buffer or {buffer, offset} (offset % 4 == 0). */
  encode(pass: GPUComputePassEncoder, x: ViewLike, w: LinearWeights, y: ViewLike, ep: LinearEpilogue = {}): void {
    const K = w.cols;
    const N = w.rows;
    const what = `matvec K=${K} N=${N}`;
    checkLinearArgs(what, w);
    const xv = asView(x, K);
    const yv = asView(y, N);
    if (xv.offset % 4) throw new Error(`${what}: x offset ${xv.offset} must be a multiple of 4 (vec4 loads)`);
    checkView(`${what} x`, xv, 1, K);
    checkView(`${what} y`, yv, 1, N);
    if (xv.buffer === yv.buffer) throw new Error(`${what}: x and y must be different buffers`);
    const flags = epilogueFlags(what, w, ep, yv.buffer);
    const rv = ep.residual ? asView(ep.residual, N) : { buffer: dummyBuffer(this.ctx), offset: 0, rowStride: 0 };
    if (ep.residual) checkView(`${what} residual`, rv, 1, N);
    const bias = flags & FLAG_BIAS ? w.bias! : dummyBuffer(this.ctx);
    const k = w.dtype === 'f16' ? this.f16 : this.f32;
    let r0 = 0;
    for (const b of w.blocks) {
      const groups = Math.ceil(b.rows / (this.rows * this.rpt));
      const gx = Math.min(groups, 32768);
      const gy = Math.ceil(groups / gx);
      const u = packUniforms([
        ['u32', b.rows], ['u32', K], ['u32', xv.offset],
        ['u32', yv.offset + r0], ['u32', rv.offset + r0], ['u32', r0], ['u32', flags],
      ]);
      k.dispatch(pass, u, [xv.buffer, b.buffer, bias, rv.buffer, yv.buffer], [gx, gy]);
      r0 += b.rows;
    }
  }
}

/** A Linear layer for any M: matvec when M = 1 (decode), tiled matmul otherwise (prefill). */
export class LinearKernel {
  readonly matmul: MatmulKernel;
  readonly matvec: MatvecKernel;
  constructor(ctx: GpuContext, opts: MatvecOptions = {}) {
    this.matmul = new MatmulKernel(ctx);
    this.matvec = new MatvecKernel(ctx, opts);
  }

  encode(pass: GPUComputePassEncoder, x: ViewLike, w: LinearWeights, y: ViewLike, M: number, ep: LinearEpilogue = {}): void {
    if (M === 1) {
      const xv = asView(x, w.cols);
      const yv = asView(y, w.rows);
      if (xv.offset % 4 === 0) return this.matvec.encode(pass, xv, w, yv, ep);
    }
    this.matmul.encode(pass, x, w, y, M, ep);
  }
}
