// Element-type helpers for checkpoint tensors: sizes of safetensors dtypes and the conversions the GPU upload needs
// (f16 → f32, bf16 → f32, f32 → packed f16 pairs in u32 words, as read by WGSL unpack2x16float). Plain TS, no GPU.

// Scalar conversions and the packed layout come from src/math/f16.ts (shared with the kernels and their tests).
import { bf16BitsToF32, f16BitsToF32, f32ToF16Bits, f32ToF16Packed } from '../math/f16';
export { bf16BitsToF32, f16BitsToF32, f32ToF16Bits, f32ToF16Packed };

/** Tensor element types a checkpoint may declare (safetensors spelling). */
export type SafetensorsDtype =
  | 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2'
  | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

/** The float types we hand to the model code. */
export type FloatDtype = 'F32' | 'F16' | 'BF16';

export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

export function isKnownDtype(d: unknown): d is SafetensorsDtype {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, d);
}

export function isFloatDtype(d: unknown): d is FloatDtype {
  return d === 'F32' || d === 'F16' || d === 'BF16';
}

function u16view(bytes: Uint8Array, what: string): Uint16Array {
  if (bytes.byteLength % 2) throw new Error(`${what}: byte length ${bytes.byteLength} is not a multiple of 2`);
  if (bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  return new Uint16Array(bytes.slice().buffer);
}

/** Little-endian f16 bytes → Float32Array. */
export function f16BytesToF32(bytes: Uint8Array): Float32Array {
  const src = u16view(bytes, 'f16BytesToF32');
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]);
  return out;
}

/** Little-endian bf16 bytes → Float32Array. */
export function bf16BytesToF32(bytes: Uint8Array): Float32Array {
  const src = u16view(bytes, 'bf16BytesToF32');
  const out = new Float32Array(src.length);
  const outU = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) outU[i] = src[i] << 16;
  return out;
}

/** Little-endian f32 bytes → Float32Array (a view when aligned, else a copy). */
export function f32BytesToF32(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4) throw new Error(`f32BytesToF32: byte length ${bytes.byteLength} is not a multiple of 4`);
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Float32Array(bytes.slice().buffer);
}

/** Any float tensor's bytes → Float32Array. */
export function toF32(dtype: FloatDtype, bytes: Uint8Array): Float32Array {
  switch (dtype) {
    case 'F32': return f32BytesToF32(bytes);
    case 'F16': return f16BytesToF32(bytes);
    case 'BF16': return bf16BytesToF32(bytes);
  }
}

/**
 * Float tensor bytes → packed f16 words (Uint32Array, same layout as f32ToF16Packed). F16 input is re-viewed
 * without conversion (little-endian pairs already are that layout; copied when odd-length or misaligned).
 */
export function toF16Packed(dtype: FloatDtype, bytes: Uint8Array): Uint32Array {
  if (dtype === 'F16') {
    if (bytes.byteLength % 4 === 0 && bytes.byteOffset % 4 === 0) {
      return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    }
    const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
    padded.set(bytes);
    return new Uint32Array(padded.buffer);
  }
  return f32ToF16Packed(toF32(dtype, bytes));
}
