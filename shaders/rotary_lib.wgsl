// rotary_lib: the precise sin/cos the rotary kernels share (rotary_kv_write, attention_decode_rope_split). Not a
// kernel: they `#include` it. GPT-NeoX rotary angle for pair j of `rot` rotated dims at position pos:
// inv_freq_j = base^(−2j/rot) = exp2(−(2j/rot) · log2(base)) (log2(base) from the host in f32), angle =
// f32(pos) · inv_freq_j rounded to f32 like transformers' float32 path.

// pi/2 = C1 + C2 + C3; C1 has 8 significant bits so k * C1 is exact for |k| < 2^16 (angles up to ~1e5).
const PIO2_C1: f32 = 1.5703125;
const PIO2_C2: f32 = 0.0004838267923332751;
const PIO2_C3: f32 = 2.5632829192545614e-12;
const TWO_OVER_PI: f32 = 0.6366197723675814;

// (sin a, cos a) to ~1 ulp for |a| < 1e5: Cody-Waite reduction to r in [-pi/4, pi/4] plus quadrant, then the
// Cephes sinf/cosf minimax polynomials. WGSL's builtin sin/cos only promise 2^-11 absolute error (SwiftShader's
// are off by ~2e-4), which alone would break a 1e-4 tolerance.
fn sincos(a: f32) -> vec2<f32> {
  let k = round(a * TWO_OVER_PI);
  let r = ((a - k * PIO2_C1) - k * PIO2_C2) - k * PIO2_C3;
  let z = r * r;
  let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  let q = i32(k) & 3;
  if (q == 0) { return vec2<f32>(s, c); }
  if (q == 1) { return vec2<f32>(c, -s); }
  if (q == 2) { return vec2<f32>(-s, -c); }
  return vec2<f32>(-c, s);
}

fn ropeAngle(pos: u32, j: u32, rot: u32, log2base: f32) -> f32 {
  let invFreq = exp2(-(f32(2u * j) / f32(rot)) * log2base);
  return f32(pos) * invFreq;
}
