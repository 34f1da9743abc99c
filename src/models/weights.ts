/**
 * WeightStore: receives tensors as they stream out of safetensors files, checks each against the model's expected
 * names and shapes, converts, and uploads to the GPU at once (no second copy of the checkpoint in memory).
 * Matrices stay f16 (packed two per u32) when the file is f16, else f32; bf16 widens to f32 exactly. A matrix that
 * exceeds the device's binding limit is split into row blocks. Small parameters are always f32.
 */
import type { GpuContext } from '../gpu/context';
import { LimitExceededError } from '../gpu/errors';
import { f16BitsToF32, bf16BitsToF32, f32ToF16Packed } from '../math/f16';
import type { Param, Weight, WeightBlock, WeightDType } from './tensor';

export type FileDType = 'F32' | 'F16' | 'BF16';

export interface TensorSpec {
  name: string;
  shape: number[];
  kind: 'matrix' | 'param';
  optional?: boolean;
}

export interface WeightStoreOptions {
  /** 'auto': keep the file's precision (f16 stays f16, f32/bf16 become f32); or force one. */
  matrixDType?: 'auto' | WeightDType;
  /** Cap on bytes per GPU buffer (default: the device's maxStorageBufferBindingSize). Tests set it small. */
  maxBlockBytes?: number;
}

export class WeightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightError';
  }
}

function toF32(dtype: FileDType, bytes: Uint8Array, count: number): Float32Array {
  if (dtype === 'F32') {
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, count);
    return new Float32Array(bytes.slice().buffer, 0, count);
  }
  const src = bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, count) : new Uint16Array(bytes.slice().buffer, 0, count);
  const out = new Float32Array(count);
  const conv = dtype === 'F16' ? f16BitsToF32 : bf16BitsToF32;
  for (let i = 0; i < count; i++) out[i] = conv(src[i]);
  return out;
}

export class WeightStore {
  private readonly specs = new Map<string, TensorSpec>();
  private readonly matrices = new Map<string, Weight>();
  private readonly params = new Map<string, Param>();
  readonly fileDTypes = new Set<FileDType>();
  private readonly maxBlockBytes: number;

  constructor(private readonly ctx: GpuContext, specs: TensorSpec[], private readonly opts: WeightStoreOptions = {}) {
    for (const s of specs) this.specs.set(s.name, s);
    this.maxBlockBytes = Math.min(opts.maxBlockBytes ?? Infinity, ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
  }

  /** Whether the model wants this tensor (checkpoints carry extras such as rotary inv_freq or mask buffers). */
  wants(name: string): boolean {
    return this.specs.has(name);
  }

  /** Called once per tensor as the file streams. Unwanted names are ignored. */
  accept(name: string, dtype: FileDType, shape: number[], bytes: Uint8Array): void {
    const spec = this.specs.get(name);
    if (!spec) return;
    const count = shape.reduce((a, b) => a * b, 1);
    const same = spec.shape.length === shape.length && spec.shape.every((v, i) => v === shape[i]);
    if (!same) {
      throw new WeightError(`tensor ${name} has shape [${shape.join(', ')}], config expects [${spec.shape.join(', ')}]`);
    }
    this.fileDTypes.add(dtype);
    if (spec.kind === 'param') {
      const data = toF32(dtype, bytes, count);
      this.params.set(name, { name, shape, buffer: this.ctx.upload(data, 'weights', name) });
    } else {
      this.matrices.set(name, this.uploadMatrix(name, dtype, shape[0], shape.slice(1).reduce((a, b) => a * b, 1), bytes));
    }
  }

  private uploadMatrix(name: string, dtype: FileDType, rows: number, cols: number, bytes: Uint8Array): Weight {
    const want = this.opts.matrixDType ?? 'auto';
    let out: WeightDType = want === 'auto' ? (dtype === 'F16' ? 'f16' : 'f32') : want;
    // The f16 matvec (decode) reads 8 halves per load; a matrix with ragged input features (e.g. dt_proj with dt_rank
    // 5, an MLP of 150) stays f32 (the prefill matmul takes any K). Every real Mamba/Pythia matrix has K % 8 == 0.
    if (out === 'f16' && cols % 8 !== 0) out = 'f32';
    const bytesPerRow = out === 'f16' ? cols * 2 : cols * 4;
    const rowsPerBlock = Math.floor(this.maxBlockBytes / bytesPerRow);
    if (rowsPerBlock < 1) {
      throw new LimitExceededError('maxStorageBufferBindingSize', bytesPerRow, this.maxBlockBytes, `one row of ${name}`);
    }
    const blocks: WeightBlock[] = [];
    for (let r0 = 0; r0 < rows; r0 += rowsPerBlock) {
      const n = Math.min(rowsPerBlock, rows - r0);
      const elemBytes = dtype === 'F32' ? 4 : 2;
      const part = bytes.subarray(r0 * cols * elemBytes, (r0 + n) * cols * elemBytes);
      let data: ArrayBufferView;
      if (out === 'f16' && dtype === 'F16') {
        data = part.byteLength % 4 === 0 ? part : (() => { const p = new Uint8Array(part.byteLength + 2); p.set(part); return p; })();
      } else {
        const f = toF32(dtype, part, n * cols);
        data = out === 'f16' ? f32ToF16Packed(f) : f;
      }
      blocks.push({ buffer: this.ctx.upload(data, 'weights', `${name}[${r0}:${r0 + n}]`), rowStart: r0, rows: n });
    }
    return { name, dtype: out, rows, cols, blocks };
  }

  /** Throws naming every required tensor the checkpoint lacked. */
  finish(): void {
    const missing = [...this.specs.values()].filter((s) => !s.optional && !this.matrices.has(s.name) && !this.params.has(s.name));
    if (missing.length) {
      const list = missing.slice(0, 5).map((s) => `${s.name} [${s.shape.join(', ')}]`).join(', ');
      throw new WeightError(`checkpoint is missing ${missing.length} tensor(s): ${list}${missing.length > 5 ? ', …' : ''}`);
    }
  }

  has(name: string): boolean {
    return this.matrices.has(name) || this.params.has(name);
  }

  matrix(name: string): Weight {
    const w = this.matrices.get(name);
    if (!w) throw new WeightError(`weight ${name} was not loaded`);
    return w;
  }

  param(name: string): Param {
    const p = this.params.get(name);
    if (!p) throw new WeightError(`parameter ${name} was not loaded`);
    return p;
  }

  /** Bytes on the GPU for all weights. */
  bytes(): number {
    let b = 0;
    for (const w of this.matrices.values()) for (const blk of w.blocks) b += blk.buffer.size;
    for (const p of this.params.values()) b += p.buffer.size;
    return b;
  }

  destroy(): void {
    for (const w of this.matrices.values()) for (const blk of w.blocks) this.ctx.pool.release(blk.buffer);
    for (const p of this.params.values()) this.ctx.pool.release(p.buffer);
    this.matrices.clear();
    this.params.clear();
  }
}
