/**
 * Decode-time dense layer (M = 1): y[N] = W[N, K] · x[K] (+ bias) (+ residual | += y) (shaders/decode_matvec.wgsl
 * through DecodeMatvec), and LinearKernel, which picks matvec for M = 1 and the tiled matmul otherwise. Weights as in
 * matmul.ts (LinearWeights: f32 or packed f16, possibly split into row blocks: one dispatch per block).
 */
import type { GpuContext } from '../gpu/context';
import { DecodeMatvec, EPI_ADD, EPI_BIAS, EPI_RESIDUAL } from './decode_matvec';
import {
  MatmulKernel, asView, checkView, checkWeights, epilogueFlags, FLAG_ACCUMULATE, FLAG_BIAS, FLAG_RESIDUAL,
  type LinearEpilogue, type LinearWeights, type ViewLike,
} from './matmul';

export interface MatvecOptions {
  /** Threads per output row (power of two ≤ 256); default from the shape (see DecodeMatvec). */
  lanes?: number;
  /** Row slots per workgroup (= 256 / lanes), the older spelling of `lanes`. */
  rowsPerWorkgroup?: number;
  /** Accepted for compatibility (1..4); the kernel keeps four weight loads in flight per thread instead. */
  rowsPerThread?: number;
}

/**
 * y[N] = W[N, K] · x[K] (+ bias) (+ residual | += y) with shaders/decode_matvec.wgsl (no prologue): any K, any x
 * offset, f32 or packed f16 weights split into row blocks (one dispatch per block).
 */
export class MatvecKernel {
  private readonly kernels = new Map<string, DecodeMatvec>();
  private readonly lanes: number | undefined;

  constructor(private readonly ctx: GpuContext, opts: MatvecOptions = {}) {
    if (opts.rowsPerThread !== undefined && !(Number.isInteger(opts.rowsPerThread) && opts.rowsPerThread >= 1 && opts.rowsPerThread <= 4)) {
      throw new Error(`matvec: rowsPerThread = ${opts.rowsPerThread} must be 1..4`);
    }
    this.lanes = opts.lanes ?? (opts.rowsPerWorkgroup !== undefined ? DecodeMatvec.WG / opts.rowsPerWorkgroup : undefined);
    if (this.lanes !== undefined && !(Number.isInteger(this.lanes) && this.lanes >= 1 && (this.lanes & (this.lanes - 1)) === 0)) {
      throw new Error(`matvec: 256 / rowsPerWorkgroup = ${this.lanes} must be a power of two`);
    }
  }

  private kernel(K: number, N: number, dtype: 'f32' | 'f16'): DecodeMatvec {
    const key = `${K}|${N}|${dtype}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = new DecodeMatvec(this.ctx, { K, N, dtype, lanes: this.lanes });
      this.kernels.set(key, k);
    }
    return k;
  }

  /** y[yOff + n] = Σ_k W[n, k] x[xOff + k] (+ ...). x, y: buffers or {buffer, offset}. */
  encode(pass: GPUComputePassEncoder, x: ViewLike, w: LinearWeights, y: ViewLike, ep: LinearEpilogue = {}): void {
    const K = w.cols;
    const N = w.rows;
    const what = `matvec K=${K} N=${N}`;
    checkWeights(what, w);
    const xv = asView(x, K);
    const yv = asView(y, N);
    checkView(`${what} x`, xv, 1, K);
    checkView(`${what} y`, yv, 1, N);
    if (xv.buffer === yv.buffer) throw new Error(`${what}: x and y must be different buffers`);
    const flags = epilogueFlags(what, w, ep, yv.buffer);
    const rv = ep.residual ? asView(ep.residual, N) : null;
    if (rv) checkView(`${what} residual`, rv, 1, N);
    const epi = (flags & FLAG_BIAS ? EPI_BIAS : 0) | (flags & FLAG_ACCUMULATE ? EPI_ADD : 0) | (flags & FLAG_RESIDUAL ? EPI_RESIDUAL : 0);
    let r0 = 0;
    for (const b of w.blocks) {
      this.kernel(K, b.rows, w.dtype).encode(pass, {
        x: xv.buffer, xOff: xv.offset, rowStart: r0, y: yv.buffer,
        seg1: { w: b.buffer, yOff: yv.offset, epi, biasOff: 0 },
        pack: flags & FLAG_BIAS ? w.bias! : null, res: rv?.buffer ?? null, resOff: rv?.offset ?? 0,
      });
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
    if (M === 1) return this.matvec.encode(pass, x, w, y, ep);
    this.matmul.encode(pass, x, w, y, M, ep);
  }
}
