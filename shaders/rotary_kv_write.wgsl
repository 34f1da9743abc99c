// rotary_kv_write: GPT-NeoX partial rotary (rotate_half) on q and k + KV-cache append, one pass.
// Layout: qkv [L, H, 3, hd] (token t, head h, part q|k|v, dim i at qkvOffset + t*qkvRowStride + h*3*hd + p*hd + i)
//   for positions pos0..pos0+L-1; k_cache, v_cache [H, maxLen, hd] each: rows pos0..pos0+L-1 get rotated k and
//   raw v. Rotated q goes to q_out at qOffset + t*qRowStride + h*qHeadStride + i (e.g. [H, L, hd]), or, when the
//   wrapper sets the const Q_IN_PLACE = true, back into the q part of qkv (q_out is then an unused dummy binding). Dims
//   i >= rot pass through unrotated.
// Rotary: inv_freq_j = base^(-2j/rot) computed in-kernel as exp2(-(2j/rot) * log2(base)) (log2(base) comes in
//   from the host in f32); angle = f32(pos) * inv_freq_j rounded to f32 like transformers' float32 path;
//   sin/cos come from our own range reduction + polynomials (sincos below), because WGSL's builtin sin/cos
//   only promise 2^-11 absolute error (SwiftShader's are ~2e-4 off). Precision: the f32 angle product itself
//   loses ~ulp(angle) (up to 2.4e-4 rad at pos 4096, 2e-3 rad at pos 32768) relative to exact math; that is the
//   model's own float32 behaviour.
// Tiling: one thread per (t, h, u), u < hd - rot/2: u < rot/2 handles the rotated pair (u, u + rot/2) (so the
//   in-place write never races with a partner read), u >= rot/2 the pass-through dim u + rot/2. 256 threads per
//   workgroup, grid-stride over a 2-D grid.

#include "rotary_lib.wgsl"

struct Params {
  L: u32,
  H: u32,
  hd: u32,
  rot: u32,
  pos0: u32,
  maxLen: u32,
  stride: u32,        // threads in the grid
  qkvOffset: u32,     // elements
  qkvRowStride: u32,  // elements between tokens of qkv (3*H*hd when dense)
  qOffset: u32,
  qRowStride: u32,
  qHeadStride: u32,
  log2base: f32,      // log2(base), computed on the host in float64 then rounded
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> q_out: array<f32>;
@group(0) @binding(3) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<f32>;

// sincos(a) comes from rotary_lib.wgsl (included above).

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let hd = params.hd;
  let H = params.H;
  let half = params.rot / 2u;
  let per = hd - half;              // threads per (t, h)
  let total = params.L * H * per;
  var idx = gid.x + gid.y * nwg.x * 256u;
  loop {
    if (idx >= total) { break; }
    let u = idx % per;
    let th = idx / per;             // t * H + h
    let h = th % H;
    let t = th / H;
    let pos = params.pos0 + t;
    let row = params.qkvOffset + t * params.qkvRowStride + h * 3u * hd;
    let qrow = params.qOffset + t * params.qRowStride + h * params.qHeadStride;
    let crow = (h * params.maxLen + pos) * hd;
    if (u < half) {
      let i1 = u + half;
      let inv_freq = exp2(-(f32(2u * u) / f32(params.rot)) * params.log2base);
      let sc = sincos(f32(pos) * inv_freq);
      let c = sc.y;
      let s = sc.x;
      let q0 = qkv[row + u];
      let q1 = qkv[row + i1];
      let k0 = qkv[row + hd + u];
      let k1 = qkv[row + hd + i1];
      // x_rot = x*cos + rotate_half(x)*sin, rotate_half(x) = cat(-x[half:rot], x[0:half])
      let qa = q0 * c - q1 * s;
      let qb = q1 * c + q0 * s;
      if (Q_IN_PLACE) {
        qkv[row + u] = qa;
        qkv[row + i1] = qb;
      } else {
        q_out[qrow + u] = qa;
        q_out[qrow + i1] = qb;
      }
      k_cache[crow + u] = k0 * c - k1 * s;
      k_cache[crow + i1] = k1 * c + k0 * s;
      v_cache[crow + u] = qkv[row + 2u * hd + u];
      v_cache[crow + i1] = qkv[row + 2u * hd + i1];
    } else {
      let i = u + half;
      if (!Q_IN_PLACE) { q_out[qrow + i] = qkv[row + i]; }
      k_cache[crow + i] = qkv[row + hd + i];
      v_cache[crow + i] = qkv[row + 2u * hd + i];
    }
    idx += params.stride;
  }
}
