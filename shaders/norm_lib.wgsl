// norm_lib: what the row norms share (layernorm.wgsl, rmsnorm.wgsl): Params, the x and w bindings, the row a
// workgroup normalises, the workgroup sum, and the row's elements with the fused residual add (ADD_RESIDUAL:
// r[t, :] += x[t, :], then the norm reads r). Not a kernel: they `#include` it and declare r and y themselves.
// One workgroup of WG threads per row; grid (min(L, 32768), ceil(L / 32768)).

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

var<workgroup> red: array<f32, WG>;

// The row of workgroup wid (L or more: past the end) and where it starts in x, r and y.
struct Row {
  row: u32,
  xb: u32,
  rb: u32,
  yb: u32,
};

fn rowOf(wid: vec3<u32>) -> Row {
  let row = wid.x + wid.y * 32768u;
  return Row(row, params.xOff + row * params.xStride, params.rOff + row * params.rStride, params.yOff + row * params.yStride);
}

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

// First read of element i: x, or (ADD_RESIDUAL) r + x, written back to r.
fn firstLoad(b: Row, i: u32) -> f32 {
  var v = x[b.xb + i];
  if (ADD_RESIDUAL) {
    v += r[b.rb + i];
    r[b.rb + i] = v;
  }
  return v;
}

// Later reads of element i: x, or r after the residual add.
fn load(b: Row, i: u32) -> f32 {
  if (ADD_RESIDUAL) { return r[b.rb + i]; }
  return x[b.xb + i];
}
