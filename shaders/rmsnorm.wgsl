// rmsnorm (Mamba): y[t, :] = v / sqrt(mean(v²) + eps) · w, with v = x[t, :], or with the fused residual add
// (ADD_RESIDUAL, HF Mamba's `hidden = residual + mixer_out` before the next norm): r[t, :] += x[t, :]; v = r[t, :].
// Layout: rows of d floats in strided views (x[xOff + t·xStride + i], same for r and y); w[d] f32.
// Tiling: one workgroup of WG threads per row (grid (min(L, 32768), ceil(L / 32768))); each thread strides over
// the row, partial sums of squares reduced in workgroup memory; the second pass re-reads the row (cache-hot).
// y must not alias x or r.

override WG: u32 = 256u;
override ADD_RESIDUAL: bool = false;

struct Params {
  L: u32,
  d: u32,
  eps: f32,
  xOff: u32,
  xStride: u32,
  rOff: u32,
  rStride: u32,
  yOff: u32,
  yStride: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> r: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>;

fn reduceSum(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = WG >> 1u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * 32768u;
  if (row >= params.L) { return; } // uniform per workgroup
  let d = params.d;
  let xb = params.xOff + row * params.xStride;
  let rb = params.rOff + row * params.rStride;
  let yb = params.yOff + row * params.yStride;

  var ss = 0.0;
  for (var i = t; i < d; i += WG) {
    var v = x[xb + i];
    if (ADD_RESIDUAL) {
      v += r[rb + i];
      r[rb + i] = v;
    }
    ss += v * v;
  }
  let inv = inverseSqrt(reduceSum(t, ss) / f32(d) + params.eps);
  for (var i = t; i < d; i += WG) {
    var v: f32;
    if (ADD_RESIDUAL) { v = r[rb + i]; } else { v = x[xb + i]; }
    y[yb + i] = v * inv * w[i];
  }
}
