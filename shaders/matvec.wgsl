// matvec (decode, M = 1): y[n] = Σ_k W[n, k] · x[k] (+ bias[n]) (+ residual[n] or += y[n]), f32 accumulation.
// Layout: W in PyTorch Linear layout [N, K] row-major (one row block of a possibly split tensor), read as
// vec4<u32>: f32 bitcast (4 values per load, K % 4 == 0) or packed f16 pairs (W_F16: 8 values, K % 8 == 0).
// x[xOff + k] read as vec4 (xOff % 4 == 0). y[yOff + n], residual r[rOff + n].
// Tiling: a workgroup of WG threads has ROWS row slots of WG / ROWS threads; each slot handles RPT consecutive
// rows at once (RPT weight loads in flight per step, each x load shared by them), its threads striding through the
// rows with coalesced 16-byte loads, then all partial sums are reduced together in workgroup memory.
// A workgroup covers ROWS · RPT rows. Memory-bound: every weight byte is read exactly once. Workgroups form a 2-D grid (row group =
// wid.x + wid.y · nwg.x) so N / ROWS may exceed 65535.
// Epilogue flags: 1 = add bias[biasOff + n], 2 = accumulate (y += result), 4 = add residual.

override WG: u32 = 256u;
override ROWS: u32 = 8u;
override RPT: u32 = 2u;
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

const MAX_RPT: u32 = 4u;
var<workgroup> red: array<f32, WG * RPT>;

fn dot8(q: vec4<u32>, xa: vec4<f32>, xb: vec4<f32>) -> f32 {
  let lo = vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y));
  let hi = vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w));
  return dot(lo, xa) + dot(hi, xb);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let tpr = WG / ROWS;
  let slot = t / tpr;
  let lane = t % tpr;
  let n0 = ((wid.x + wid.y * nwg.x) * ROWS + slot) * RPT;
  let N = params.N;
  let K = params.K;
  let xo = params.xOff >> 2u;

  var acc: array<f32, MAX_RPT>;
  for (var q = 0u; q < MAX_RPT; q++) { acc[q] = 0.0; }
  // Rows past N re-read row N − 1 (in bounds, results discarded) so the inner loop has no per-row branch.
  if (W_F16) {
    let K8 = K >> 3u;
    for (var k = lane; k < K8; k += tpr) {
      let xa = x[xo + 2u * k];
      let xb = x[xo + 2u * k + 1u];
      for (var q = 0u; q < RPT; q++) {
        let n = min(n0 + q, N - 1u);
        acc[q] += dot8(w[n * K8 + k], xa, xb);
      }
    }
  } else {
    let K4 = K >> 2u;
    for (var k = lane; k < K4; k += tpr) {
      let xv = x[xo + k];
      for (var q = 0u; q < RPT; q++) {
        let n = min(n0 + q, N - 1u);
        acc[q] += dot(bitcast<vec4<f32>>(w[n * K4 + k]), xv);
      }
    }
  }
  for (var q = 0u; q < RPT; q++) { red[q * WG + t] = acc[q]; }
  workgroupBarrier();
  for (var s = tpr >> 1u; s > 0u; s >>= 1u) {
    if (lane < s) {
      for (var q = 0u; q < RPT; q++) { red[q * WG + t] += red[q * WG + t + s]; }
    }
    workgroupBarrier();
  }
  if (lane < RPT) {
    let n = n0 + lane;
    if (n < N) {
      var o = red[lane * WG + slot * tpr];
      let flags = params.flags;
      if ((flags & 1u) != 0u) { o += bias[params.biasOff + n]; }
      if ((flags & 4u) != 0u) { o += res[params.rOff + n]; }
      if ((flags & 2u) != 0u) { o += y[params.yOff + n]; }
      y[params.yOff + n] = o;
    }
  }
}
