// rmsnorm (Mamba): y[t, :] = v / sqrt(mean(v²) + eps) · w, with v = x[t, :], or with the fused residual add
// (ADD_RESIDUAL, HF Mamba's `hidden = residual + mixer_out` before the next norm): r[t, :] += x[t, :]; v = r[t, :].
// Layout: rows of d floats in strided views (x[xOff + t·xStride + i], same for r and y); w[d] f32.
// Tiling: one workgroup of WG threads per row (norm_lib.wgsl); each thread strides over the row, partial sums of
// squares reduced in workgroup memory; the second pass re-reads the row (cache-hot).
// y must not alias x or r.

#include "norm_lib.wgsl"

@group(0) @binding(3) var<storage, read_write> r: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let at = rowOf(wid);
  if (at.row >= params.L) { return; } // uniform per workgroup
  let d = params.d;

  var ss = 0.0;
  for (var i = t; i < d; i += WG) {
    let v = firstLoad(at, i);
    ss += v * v;
  }
  let inv = inverseSqrt(reduceSum(t, ss) / f32(d) + params.eps);
  for (var i = t; i < d; i += WG) {
    y[at.yb + i] = load(at, i) * inv * w[i];
  }
}
