/**
 * GPU tensors as the models see them: a 2-D strided view into an f32 buffer (activations), and a weight matrix that
 * is f32 or packed f16 and may be split into row blocks (a tensor larger than maxStorageBufferBindingSize, e.g.
 * the 50280 × 768 embedding in f32 on a device with a 128 MiB binding limit, is stored as several buffers).
 */

/** rows × cols of f32 at buffer[offset + r·stride + c] (offset and stride in elements). */
export interface View {
  buffer: GPUBuffer;
  offset: number;
  rows: number;
  cols: number;
  stride: number;
}

export function view(buffer: GPUBuffer, rows: number, cols: number, offset = 0, stride = cols): View {
  return { buffer, offset, rows, cols, stride };
}

/** Columns [start, start + count) of v. */
export function colSlice(v: View, start: number, count: number): View {
  if (start + count > v.cols) throw new Error(`column slice [${start}, ${start + count}) out of ${v.cols}`);
  return { ...v, offset: v.offset + start, cols: count };
}

/** Rows [start, start + count) of v. */
export function rowSlice(v: View, start: number, count: number): View {
  if (start + count > v.rows) throw new Error(`row slice [${start}, ${start + count}) out of ${v.rows}`);
  return { ...v, offset: v.offset + start * v.stride, rows: count };
}

export type WeightDType = 'f32' | 'f16';

/** One contiguous range of output rows of a weight matrix. f16 blocks hold two values per u32. */
export interface WeightBlock {
  buffer: GPUBuffer;
  rowStart: number;
  rows: number;
}

/** A matrix [rows = out features, cols = in features] in PyTorch Linear layout. */
export interface Weight {
  name: string;
  dtype: WeightDType;
  rows: number;
  cols: number;
  blocks: WeightBlock[];
}

/** A small f32 parameter vector or matrix kept whole (norm weights, biases, A_log, D, conv weights). */
export interface Param {
  name: string;
  shape: number[];
  buffer: GPUBuffer;
}
