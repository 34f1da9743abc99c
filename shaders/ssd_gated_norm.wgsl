// ssd_gated_norm: Mamba-2's gated RMSNorm as mamba_ssm computes it (RMSNormGated, norm_before_gate=False, group_size =
// d_inner / G): v = y ⊙ SiLU(z); each group of gs = d_inner / G channels is normalised on its own,
//   out[t, c] = v[c] / sqrt(mean_{c' in group(c)} v[c']² + eps) · w[c].
// Layout: y, z, out [L, d_inner] strided views (element offset, row stride; z is the in_proj output's first columns);
// w [d_inner] f32. out must not alias y or z.
// Tiling: one workgroup of WG threads per (token, group): grid (min(L, 32768), ceil(L / 32768), G); each thread
// strides over the group's channels, the sum of squares is reduced in workgroup memory, the second pass recomputes
// v (cache-hot).

#include "activations_lib.wgsl"

override WG: u32 = 256u;

struct Params {
  L: u32, gs: u32, eps: f32, yOff: u32,
  yStride: u32, zOff: u32, zStride: u32, oOff: u32,
  oStride: u32, _p0: u32, _p1: u32, _p2: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * 32768u;
  if (row >= params.L) { return; } // uniform per workgroup
  let gs = params.gs;
  let c0 = wid.z * gs;
  let yb = params.yOff + row * params.yStride + c0;
  let zb = params.zOff + row * params.zStride + c0;
  var ss = 0.0;
  for (var i = t; i < gs; i += WG) {
    let v = y[yb + i] * silu(z[zb + i]);
    ss += v * v;
  }
  red[t] = ss;
  workgroupBarrier();
  for (var s = WG >> 1u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(red[0] / f32(gs) + params.eps);
  let ob = params.oOff + row * params.oStride + c0;
  for (var i = t; i < gs; i += WG) {
    out[ob + i] = y[yb + i] * silu(z[zb + i]) * inv * w[c0 + i];
  }
}
