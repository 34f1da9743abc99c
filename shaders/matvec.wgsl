// matvec (decode, M = 1): y[n] = Σ_k W[n, k] · x[k] (+ bias[n]) (+ residual[n] or += y[n]), f32 accumulation.
// Layout: W in PyTorch Linear layout [N, K] row-major (one row block of a possibly split tensor), read as
// vec4<u32>: f32 bitcast (4 values per load, K % 4 == 0) or packed f16 pairs (W_F16: 8 values, K % 8 == 0).
// x[xOff + k] read as vec4 (xOff % 4 == 0). y[yOff + n], residual r[rOff + n].
// Tiling: a workgroup of WG threads handles ROWS consecutive rows; the WG / ROWS threads of a row stride through
// it with coalesced 16-byte loads (two in flight per iteration), then reduce their partial sums in workgroup
// memory. Memory-bound: every weight byte is read exactly once. Workgroups form a 2-D grid (row group =
// wid.x + wid.y · nwg.x) so N / ROWS may exceed 65535.
// Epilogue flags: 1 = add bias[biasOff + n], 2 = accumulate (y += result), 4 = add residual.

override WG: u32 = 256u;
override ROWS: u32 = 8u;
override W_F16: bool = false;

struct Params {
  N: u32,
  K: u32,
  xOff: u32,
  yOff: u32,
  rOff: u32,
  biasOff: u32,
  flags: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>;

fn dot8(q: vec4<u32>, xa: vec4<f32>, xb: vec4<f32>) -> f32 {
  let lo = vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y));
  let hi = vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w));
  return dot(lo, xa) + dot(hi, xb);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let tpr = WG / ROWS;
  let r = t / tpr;
  let lane = t % tpr;
  let n = (wid.x + wid.y * nwg.x) * ROWS + r;
  let N = params.N;
  let K = params.K;
  let xo = params.xOff >> 2u;

  var s0 = 0.0;
  var s1 = 0.0;
  if (n < N) {
    if (W_F16) {
      let K8 = K >> 3u;
      let base = n * K8;
      var k = lane;
      for (; k + tpr < K8; k += 2u * tpr) {
        let q0 = w[base + k];
        let q1 = w[base + k + tpr];
        s0 += dot8(q0, x[xo + 2u * k], x[xo + 2u * k + 1u]);
        s1 += dot8(q1, x[xo + 2u * (k + tpr)], x[xo + 2u * (k + tpr) + 1u]);
      }
      if (k < K8) { s0 += dot8(w[base + k], x[xo + 2u * k], x[xo + 2u * k + 1u]); }
    } else {
      let K4 = K >> 2u;
      let base = n * K4;
      var k = lane;
      for (; k + tpr < K4; k += 2u * tpr) {
        let w0 = bitcast<vec4<f32>>(w[base + k]);
        let w1 = bitcast<vec4<f32>>(w[base + k + tpr]);
        s0 += dot(w0, x[xo + k]);
        s1 += dot(w1, x[xo + k + tpr]);
      }
      if (k < K4) { s0 += dot(bitcast<vec4<f32>>(w[base + k]), x[xo + k]); }
    }
  }
  red[t] = s0 + s1;
  workgroupBarrier();
  for (var s = tpr >> 1u; s > 0u; s >>= 1u) {
    if (lane < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  if (lane == 0u && n < N) {
    var o = red[t];
    let flags = params.flags;
    if ((flags & 1u) != 0u) { o += bias[params.biasOff + n]; }
    if ((flags & 4u) != 0u) { o += res[params.rOff + n]; }
    if ((flags & 2u) != 0u) { o += y[params.yOff + n]; }
    y[params.yOff + n] = o;
  }
}
