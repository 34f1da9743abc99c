/**
 * Half-precision helpers for weights. Packed-f16 layout used by every kernel here: a flat Uint32Array where word j
 * holds element 2j in its low 16 bits and element 2j+1 in its high 16 bits (what WGSL's unpack2x16float reads as
 * .x and .y). A tensor of n elements takes ceil(n / 2) words; an odd tail is padded with +0.
 * Conversions are bit-exact round-to-nearest-even (subnormals, ±inf, NaN and overflow to inf included).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 value → f16 bits (round to nearest even). */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) {
    // inf or NaN (keep NaN quiet and non-zero)
    return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  }
  const e = exp - 127 + 15; // rebiased exponent
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    // subnormal f16 (or zero): value = mant16 · 2^-24
    if (e < -10) return sign; // rounds to ±0 (below half the smallest subnormal)
    mant |= 0x800000; // implicit leading 1
    const shift = 14 - e; // 14..24
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h; // a carry into the exponent field gives the smallest normal, which is right
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // may carry into exponent, up to inf: right
  return sign | h;
}

/** f16 bits → f32 value (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bf16 bits → f32 value (exact: bf16 is the top half of an f32). */
export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** Packs f32 values into f16 pairs (see the layout above). */
export function f32ToF16Packed(src: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(src.length / 2));
  for (let j = 0; j < out.length; j++) {
    const lo = f32ToF16Bits(src[2 * j]);
    const hi = 2 * j + 1 < src.length ? f32ToF16Bits(src[2 * j + 1]) : 0;
    out[j] = (lo | (hi << 16)) >>> 0;
  }
  return out;
}

/** Unpacks `n` elements of packed f16 into f32. */
export function f16PackedToF32(src: Uint32Array, n = src.length * 2): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const w = src[i >>> 1];
    out[i] = f16BitsToF32(i & 1 ? w >>> 16 : w & 0xffff);
  }
  return out;
}

/** Rounds every value to the nearest f16 (what a kernel sees after packing), as f32. */
export function roundToF16(src: ArrayLike<number>): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(f32ToF16Bits(src[i]));
  return out;
}
