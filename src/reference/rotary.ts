/**
 * CPU oracle for the GPT-NeoX partial rotary embedding + KV-cache append (shaders/rotary_kv_write.wgsl).
 *
 * Input: the fused query_key_value output for L tokens at positions pos0..pos0+L-1, laid out [L, H, 3, hd]
 * (token t, head h, part p in {q, k, v}, dim i at t*3*H*hd + h*3*hd + p*hd + i).
 * Rotary (rotate_half form) on the first rot = floor(hd * rotary_pct) dims of q and k:
 *   inv_freq_j = 1 / base^(2j / rot), j < rot/2;  angle = pos * inv_freq_j;  cos/sin duplicated as cat(f, f)
 *   x_rot = x * cos + rotate_half(x) * sin,  rotate_half(x) = cat(-x[rot/2:rot], x[0:rot/2])
 * Output: q [H, L, hd]; k and v appended to caches [H, maxLen, hd] at rows pos0..pos0+L-1.
 *
 * angleMode 'f32' (default) mirrors transformers' GPTNeoXRotaryEmbedding in float32: inv_freq and the angle
 * pos * inv_freq are rounded to f32 (that rounding is part of the model as trained/evaluated), then cos/sin are
 * taken in float64. 'f64' keeps everything in float64 (the exact math); the two differ by up to half an f32 ulp of
 * the angle (2.4e-4 rad at pos 4096, 2e-3 rad at pos 32768).
 */

export interface RotaryShape {
  L: number;
  H: number;
  hd: number;
  /** Rotated dims per head: rotaryDims(hd, rotary_pct) (src/math/rotary.ts). */
  rot: number;
  pos0: number;
  maxLen: number;
  base: number;
}

/** inv_freq_j, j < rot/2, as transformers computes it in float32 (mode 'f32') or exactly ('f64'). */
export function rotaryInvFreq(rot: number, base: number, mode: 'f32' | 'f64' = 'f32'): Float64Array {
  const out = new Float64Array(rot / 2);
  const f = mode === 'f32' ? Math.fround : (x: number) => x;
  for (let j = 0; j < rot / 2; j++) out[j] = f(1 / f(Math.pow(f(base), f((2 * j) / rot))));
  return out;
}

/** cos/sin tables [rot/2] for one position. */
export function rotaryCosSin(pos: number, invFreq: Float64Array, mode: 'f32' | 'f64' = 'f32'): { cos: Float64Array; sin: Float64Array } {
  const n = invFreq.length;
  const cos = new Float64Array(n);
  const sin = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const a = mode === 'f32' ? Math.fround(Math.fround(pos) * invFreq[j]) : pos * invFreq[j];
    cos[j] = Math.cos(a);
    sin[j] = Math.sin(a);
  }
  return { cos, sin };
}

/** Rotates x[0:rot] of one head vector (length hd) in place-free form; dims >= rot pass through. */
export function applyRotary(x: ArrayLike<number>, rot: number, cos: Float64Array, sin: Float64Array): Float64Array {
  const hd = x.length;
  const half = rot / 2;
  const y = new Float64Array(hd);
  for (let i = 0; i < hd; i++) {
    if (i >= rot) {
      y[i] = x[i];
      continue;
    }
    const j = i % half;
    const rh = i < half ? -x[i + half] : x[i - half];
    y[i] = x[i] * cos[j] + rh * sin[j];
  }
  return y;
}

/**
 * Oracle for RotaryKvKernel: returns q [H, L, hd] and writes rotated k and raw v into kCache / vCache
 * ([H, maxLen, hd] each) at rows pos0..pos0+L-1 (other rows untouched).
 */
export function rotaryKvReference(
  qkv: Float32Array,
  s: RotaryShape,
  kCache: Float32Array,
  vCache: Float32Array,
  mode: 'f32' | 'f64' = 'f32',
): Float32Array {
  const { L, H, hd, rot, pos0, maxLen, base } = s;
  if (qkv.length !== L * 3 * H * hd) throw new Error(`rotaryKvReference: qkv has ${qkv.length} floats, want ${L * 3 * H * hd}`);
  const inv = rotaryInvFreq(rot, base, mode);
  const q = new Float32Array(H * L * hd);
  for (let t = 0; t < L; t++) {
    const pos = pos0 + t;
    const { cos, sin } = rotaryCosSin(pos, inv, mode);
    for (let h = 0; h < H; h++) {
      const row = (t * H + h) * 3 * hd;
      const qr = applyRotary(qkv.subarray(row, row + hd), rot, cos, sin);
      const kr = applyRotary(qkv.subarray(row + hd, row + 2 * hd), rot, cos, sin);
      for (let i = 0; i < hd; i++) {
        q[(h * L + t) * hd + i] = qr[i];
        kCache[(h * maxLen + pos) * hd + i] = kr[i];
        vCache[(h * maxLen + pos) * hd + i] = qkv[row + 2 * hd + i];
      }
    }
  }
  return q;
}
