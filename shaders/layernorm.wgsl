// layernorm (GPT-NeoX): y[t, :] = (v − mean(v)) / sqrt(var(v) + eps) · w + b, v = x[t, :] (biased variance, as
// torch.nn.LayerNorm), or with the fused residual add (ADD_RESIDUAL): r[t, :] += x[t, :]; v = r[t, :].
// Layout: rows of d floats in strided views (x[xOff + t·xStride + i], same for r and y); w[d], b[d] f32.
// Tiling: one workgroup of WG threads per row (norm_lib.wgsl); two-pass statistics (mean, then Σ(v − mean)²)
// reduced in workgroup memory, then a third cache-hot pass writes y.
// y must not alias x or r.

#include "norm_lib.wgsl"

@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> r: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let at = rowOf(wid);
  if (at.row >= params.L) { return; } // uniform per workgroup
  let d = params.d;

  var s1 = 0.0;
  for (var i = t; i < d; i += WG) { s1 += firstLoad(at, i); }
  let mean = reduceSum(t, s1) / f32(d);
  var s2 = 0.0;
  for (var i = t; i < d; i += WG) {
    let c = load(at, i) - mean;
    s2 += c * c;
  }
  let inv = inverseSqrt(reduceSum(t, s2) / f32(d) + params.eps);
  for (var i = t; i < d; i += WG) {
    y[at.yb + i] = (load(at, i) - mean) * inv * w[i] + b[i];
  }
}
