// layernorm (GPT-NeoX): y[t, :] = (v − mean(v)) / sqrt(var(v) + eps) · w + b, v = x[t, :] (biased variance, as
// torch.nn.LayerNorm), or with the fused residual add (ADD_RESIDUAL): r[t, :] += x[t, :]; v = r[t, :].
// Layout: rows of d floats in strided views (x[xOff + t·xStride + i], same for r and y); w[d], b[d] f32.
// Tiling: one workgroup of WG threads per row (grid (min(L, 32768), ceil(L / 32768))); two-pass statistics
// (mean, then Σ(v − mean)²) reduced in workgroup memory, then a third cache-hot pass writes y.
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
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> r: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

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

fn load(xb: u32, rb: u32, i: u32) -> f32 {
  if (ADD_RESIDUAL) { return r[rb + i]; }
  return x[xb + i];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * 32768u;
  if (row >= params.L) { return; } // uniform per workgroup
  let d = params.d;
  let xb = params.xOff + row * params.xStride;
  let rb = params.rOff + row * params.rStride;
  let yb = params.yOff + row * params.yStride;

  var s1 = 0.0;
  for (var i = t; i < d; i += WG) {
    var v = x[xb + i];
    if (ADD_RESIDUAL) {
      v += r[rb + i];
      r[rb + i] = v;
    }
    s1 += v;
  }
  let mean = reduceSum(t, s1) / f32(d);
  var s2 = 0.0;
  for (var i = t; i < d; i += WG) {
    let c = load(xb, rb, i) - mean;
    s2 += c * c;
  }
  let inv = inverseSqrt(reduceSum(t, s2) / f32(d) + params.eps);
  for (var i = t; i < d; i += WG) {
    y[yb + i] = (load(xb, rb, i) - mean) * inv * w[i] + b[i];
  }
}
