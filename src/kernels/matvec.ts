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
  /**
   * Row slots per workgroup (default 8, i.e. 32 threads per slot); workgroupSize / rows must be a power of two.
   * Without rowsPerWorkgroup / rowsPerThread, blocks of fewer than 8192 rows use 4 slots × 1 row (more workgroups).
   */
  rowsPerWorkgroup?: number;
  /** Rows each slot handles at once (1 to 4, default 2): more weight loads in flight, x loads shared. */
  rowsPerThread?: number;
}

export class MatvecKernel {
  private readonly kernels = new Map<string, ComputeKernel>();
  readonly wg: number;
  /** Configuration for blocks of at least NARROW_BELOW rows (or always, when the caller chose one). */
  readonly rows: number;
  readonly rpt: number;
  private readonly auto: boolean;
  /** Below this many rows a block uses 4 slots × 1 row per workgroup, so small N still fills the GPU. */
  static readonly NARROW_BELOW = 8192;

  constructor(private readonly ctx: GpuContext, opts: MatvecOptions = {}) {
    this.wg = Math.min(opts.workgroupSize ?? 256, ctx.limits.maxComputeInvocationsPerWorkgroup);
    this.auto = opts.rowsPerWorkgroup === undefined && opts.rowsPerThread === undefined;
    this.rows = opts.rowsPerWorkgroup ?? 8;
    this.rpt = opts.rowsPerThread ?? 2;
    this.check(this.rows, this.rpt);
    if (this.auto) this.check(4, 1);
  }

  private check(rows: number, rpt: number): void {
    const tpr = this.wg / rows;
    if (!Number.isInteger(tpr) || tpr < 1 || (tpr & (tpr - 1))) throw new Error(`matvec: workgroupSize / rowsPerWorkgroup = ${tpr} must be a power of two`);
    if (!(rpt >= 1 && rpt <= 4 && Number.isInteger(rpt)) || rpt > tpr) throw new Error(`matvec: rowsPerThread = ${rpt} must be 1..4 and ≤ threads per row`);
  }

  private kernel(f16: boolean, rows: number, rpt: number): ComputeKernel {
    const key = `${f16}|${rows}|${rpt}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = new ComputeKernel(this.ctx, 'matvec', 'main', { WG: this.wg, ROWS: rows, RPT: rpt, W_F16: f16 ? 1 : 0 });
      this.kernels.set(key, k);
    }
    return k;
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
    let r0 = 0;
    for (const b of w.blocks) {
      const narrow = this.auto && b.rows < MatvecKernel.NARROW_BELOW;
      const rows = narrow ? 4 : this.rows;
      const rpt = narrow ? 1 : this.rpt;
      const k = this.kernel(w.dtype === 'f16', rows, rpt);
      const groups = Math.ceil(b.rows / (rows * rpt));
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
