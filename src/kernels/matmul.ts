/**
 * Dense layers: Y[M, N] = X[M, K] · W[N, K]ᵀ (+ bias) with W in PyTorch Linear layout (shaders/matmul.wgsl), plus
 * what matvec.ts and embedding.ts share: the LinearWeights description (f32 or packed f16, split into row blocks
 * when the tensor exceeds maxStorageBufferBindingSize), strided views, and an uploader.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import { f32ToF16Packed } from '../math/f16';

export type WeightDType = 'f32' | 'f16';

/** One contiguous range of rows of a [rows, cols] tensor, stored from element 0 of its own buffer. */
export interface WeightBlock {
  buffer: GPUBuffer;
  rows: number;
}

/**
 * A row-major [rows, cols] weight (Linear: rows = N = out features, cols = K = in features; embedding: rows =
 * vocab, cols = d). f32: plain floats. f16: packed pairs (src/math/f16.ts: word j holds elements 2j | 2j+1 << 16),
 * packed per block. `blocks` cover rows [0, rows) in order (most tensors have one block).
 */
export interface LinearWeights {
  dtype: WeightDType;
  rows: number;
  cols: number;
  blocks: WeightBlock[];
  /** Optional f32 bias [rows], one buffer (added when present unless a call says bias: false). */
  bias?: GPUBuffer | null;
}

/** A strided row-major view of floats: element (r, c) is at buffer[offset + r · rowStride + c]. */
export interface MatView {
  buffer: GPUBuffer;
  /** In floats (default 0). */
  offset?: number;
  /** In floats (default: the number of columns). */
  rowStride?: number;
}

export type ViewLike = GPUBuffer | MatView;

export function asView(v: ViewLike, cols: number): Required<MatView> {
  if ('mapState' in v) return { buffer: v, offset: 0, rowStride: cols };
  return { buffer: v.buffer, offset: v.offset ?? 0, rowStride: v.rowStride ?? cols };
}

/** Throws when rows × cols of the view do not fit in its buffer. */
export function checkView(what: string, v: Required<MatView>, rows: number, cols: number): void {
  if (!Number.isInteger(v.offset) || v.offset < 0) throw new Error(`${what}: offset ${v.offset} must be a non-negative integer`);
  if (rows > 1 && v.rowStride < cols) throw new Error(`${what}: rowStride ${v.rowStride} < cols ${cols}`);
  const need = rows === 0 ? 0 : v.offset + (rows - 1) * v.rowStride + cols;
  const have = v.buffer.size / 4;
  if (need > have) throw new Error(`${what}: view needs ${need} floats (offset ${v.offset}, ${rows}×${cols}, stride ${v.rowStride}) but the buffer holds ${have}`);
}

/** Bytes of one block of `rows` rows. */
export function blockBytes(dtype: WeightDType, rows: number, cols: number): number {
  return dtype === 'f32' ? rows * cols * 4 : Math.ceil((rows * cols) / 2) * 4;
}

/** The largest number of rows per block that fits `maxBytes` (default: maxStorageBufferBindingSize). */
export function maxBlockRows(ctx: GpuContext, dtype: WeightDType, cols: number, maxBytes?: number): number {
  const lim = Math.min(maxBytes ?? Infinity, ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  const perRow = dtype === 'f32' ? cols * 4 : cols * 2;
  let rows = Math.floor(lim / perRow);
  if (dtype === 'f16' && (rows * cols) % 2) rows--; // keep blocks whole words
  if (rows < 1) throw new Error(`a single row of ${cols} ${dtype} values exceeds ${lim} bytes`);
  return rows;
}

export interface UploadOptions {
  dtype?: WeightDType;
  bias?: Float32Array | null;
  /** Force smaller blocks (tests), in rows. */
  blockRows?: number;
  label?: string;
}

/** Uploads a row-major [rows, cols] f32 tensor as LinearWeights (packing to f16 and splitting into blocks as asked). */
export function uploadLinear(ctx: GpuContext, data: Float32Array, rows: number, cols: number, opts: UploadOptions = {}): LinearWeights {
  const dtype = opts.dtype ?? 'f32';
  if (data.length !== rows * cols) throw new Error(`uploadLinear: ${data.length} values for [${rows}, ${cols}]`);
  const per = Math.min(opts.blockRows ?? Infinity, maxBlockRows(ctx, dtype, cols));
  const blocks: WeightBlock[] = [];
  for (let r0 = 0; r0 < rows; r0 += per) {
    const r = Math.min(per, rows - r0);
    const slice = data.subarray(r0 * cols, (r0 + r) * cols);
    const payload = dtype === 'f32' ? slice : f32ToF16Packed(slice);
    blocks.push({ buffer: ctx.upload(payload, 'weights', `${opts.label ?? 'weight'}[${r0}:${r0 + r}]`), rows: r });
  }
  const bias = opts.bias ? ctx.upload(opts.bias, 'weights', `${opts.label ?? 'weight'}.bias`) : null;
  if (opts.bias && opts.bias.length !== rows) throw new Error(`uploadLinear: bias has ${opts.bias.length} values, expected ${rows}`);
  return { dtype, rows, cols, blocks, bias };
}

export function releaseLinear(ctx: GpuContext, w: LinearWeights): void {
  for (const b of w.blocks) ctx.pool.release(b.buffer);
  ctx.pool.release(w.bias ?? null);
}

export function checkWeights(what: string, w: LinearWeights): void {
  let total = 0;
  for (const b of w.blocks) {
    const need = blockBytes(w.dtype, b.rows, w.cols);
    if (b.buffer.size < need) throw new Error(`${what}: weight block of ${b.rows} rows needs ${need} bytes, buffer has ${b.buffer.size}`);
    total += b.rows;
  }
  if (total !== w.rows) throw new Error(`${what}: weight blocks cover ${total} rows, expected ${w.rows}`);
  if (w.bias && w.bias.size < w.rows * 4) throw new Error(`${what}: bias buffer holds ${w.bias.size / 4} floats, expected ${w.rows}`);
}

const dummies = new WeakMap<GpuContext, GPUBuffer>();
/** A 16-byte buffer bound to unused optional bindings. */
export function dummyBuffer(ctx: GpuContext): GPUBuffer {
  let b = dummies.get(ctx);
  if (!b) {
    b = ctx.buffer(16, 'scratch', 'dummy');
    dummies.set(ctx, b);
  }
  return b;
}

export interface LinearEpilogue {
  /** Add w.bias (default: true when w.bias is set). */
  bias?: boolean;
  /** Y += X·Wᵀ (read-modify-write of Y). */
  accumulate?: boolean;
  /** Y = residual + X·Wᵀ (a different buffer from Y; for in-place residual adds use accumulate). */
  residual?: ViewLike;
}

export const FLAG_BIAS = 1;
export const FLAG_ACCUMULATE = 2;
export const FLAG_RESIDUAL = 4;

export function epilogueFlags(what: string, w: LinearWeights, ep: LinearEpilogue, y: GPUBuffer): number {
  let flags = 0;
  const useBias = ep.bias ?? !!w.bias;
  if (useBias) {
    if (!w.bias) throw new Error(`${what}: bias requested but the weights have none`);
    flags |= FLAG_BIAS;
  }
  if (ep.accumulate) flags |= FLAG_ACCUMULATE;
  if (ep.residual) {
    if (ep.accumulate) throw new Error(`${what}: accumulate and residual are exclusive`);
    const rb = 'mapState' in ep.residual ? ep.residual : ep.residual.buffer;
    if (rb === y) throw new Error(`${what}: residual must be a different buffer from the output (use accumulate for in-place adds)`);
    flags |= FLAG_RESIDUAL;
  }
  return flags;
}

/**
 * Y[M, N] = X[M, K] · W[N, K]ᵀ (+ bias) (+ residual | += Y), any K. X: strided view; Y: strided view of N columns.
 * Weights f32 or packed f16, one dispatch per row block writing Y columns [r0, r0 + rows). Loads are vec4 when they
 * can be (X: K, offset and rowStride multiples of 4; W: f32 K % 4 == 0, f16 K % 8 == 0), else per element with the
 * K tail masked (e.g. dt_proj, K = dt_rank = 5, reading a column slice of x_proj's output).
 */
export class MatmulKernel {
  private readonly kernels = new Map<string, ComputeKernel>();
  static readonly TILE_M = 64;
  static readonly TILE_N = 64;

  constructor(private readonly ctx: GpuContext) {
    // the aligned variants (every real Mamba / Pythia layer) are compiled up front, the tail ones on first use
    this.kernel(false, true, true);
    this.kernel(true, true, true);
  }

  /** The pipeline for a weight dtype and the load widths (X vec4 or per element, W vec or per element). */
  private kernel(f16: boolean, xVec4: boolean, wVec: boolean): ComputeKernel {
    const key = `${+f16}${+xVec4}${+wVec}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = new ComputeKernel(this.ctx, 'matmul', { constants: { W_F16: +f16, X_VEC4: +xVec4, W_VEC: +wVec, DIRECT: +this.ctx.cpuTiling } });
      this.kernels.set(key, k);
    }
    return k;
  }

  /** Which loads a call uses: vec4 where the layout allows, else per element (shapes not multiples of 4 / 8). */
  static loads(w: Pick<LinearWeights, 'dtype' | 'cols'>, x: Required<MatView>): { xVec4: boolean; wVec: boolean } {
    const K = w.cols;
    return {
      xVec4: K % 4 === 0 && x.offset % 4 === 0 && x.rowStride % 4 === 0,
      wVec: w.dtype === 'f32' ? K % 4 === 0 : K % 8 === 0,
    };
  }

  encode(pass: GPUComputePassEncoder, x: ViewLike, w: LinearWeights, y: ViewLike, M: number, ep: LinearEpilogue = {}): void {
    const K = w.cols;
    const N = w.rows;
    const what = `matmul M=${M} K=${K} N=${N}`;
    checkWeights(what, w);
    const xv = asView(x, K);
    const yv = asView(y, N);
    if (M < 1 || !Number.isInteger(M)) throw new Error(`${what}: M must be a positive integer`);
    if (!Number.isInteger(xv.rowStride) || xv.rowStride < 0) throw new Error(`${what}: X rowStride ${xv.rowStride} must be a non-negative integer`);
    checkView(`${what} X`, xv, M, K);
    checkView(`${what} Y`, yv, M, N);
    if (xv.buffer === yv.buffer) throw new Error(`${what}: X and Y must be different buffers`);
    const { xVec4, wVec } = MatmulKernel.loads(w, xv);
    // Per-element loads read X and W through vec4 arrays: the vec4 holding the last element must lie in the buffer.
    if (!xVec4) checkVec4Cover(`${what} X`, xv.buffer, xv.offset + (M - 1) * xv.rowStride + K);
    if (!wVec) for (const b of w.blocks) checkVec4Cover(`${what} W`, b.buffer, w.dtype === 'f32' ? b.rows * K : Math.ceil((b.rows * K) / 2));
    const flags = epilogueFlags(what, w, ep, yv.buffer);
    const rv = ep.residual ? asView(ep.residual, N) : { buffer: dummyBuffer(this.ctx), offset: 0, rowStride: 0 };
    if (ep.residual) checkView(`${what} residual`, rv, M, N);
    const bias = flags & FLAG_BIAS ? w.bias! : dummyBuffer(this.ctx);
    const k = this.kernel(w.dtype === 'f16', xVec4, wVec);
    const gy = Math.ceil(M / MatmulKernel.TILE_M);
    let r0 = 0;
    for (const b of w.blocks) {
      const u = {
        M, N: b.rows, K, xOff: xv.offset, xStride: xv.rowStride, yOff: yv.offset + r0, yStride: yv.rowStride,
        rOff: rv.offset + r0, rStride: rv.rowStride, biasOff: r0, flags,
      };
      k.dispatch(pass, u, [xv.buffer, b.buffer, bias, rv.buffer, yv.buffer], [Math.ceil(b.rows / MatmulKernel.TILE_N), gy]);
      r0 += b.rows;
    }
  }
}

/** Throws unless `words` 4-byte values, read as whole vec4s, lie inside `buffer` (sizes rounded up to 16 bytes). */
export function checkVec4Cover(what: string, buffer: GPUBuffer, words: number): void {
  const need = Math.ceil(words / 4) * 16;
  if (buffer.size < need) {
    throw new Error(`${what}: per-element loads read whole vec4s: the buffer needs ${need} bytes (its size rounded up to 16), has ${buffer.size}`);
  }
}

export function checkLinearArgs(what: string, w: LinearWeights): void {
  checkWeights(what, w);
  const K = w.cols;
  if (w.dtype === 'f32' && K % 4) throw new Error(`${what}: f32 weights need K % 4 == 0 (vec4 loads), K = ${K}`);
  if (w.dtype === 'f16' && K % 8) throw new Error(`${what}: packed f16 weights need K % 8 == 0 (8 halves per load), K = ${K}`);
}
