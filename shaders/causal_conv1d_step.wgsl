// causal_conv1d_step: one decode token of Mamba's causal depthwise conv1d. Per channel d:
//   out[d] = act(bias[d] + Σ_{j<K−1} w[d, j]·state[j, d] + w[d, K−1]·x[d]),  then state shifts up one row and x
// becomes its last row. Layouts: x [D] and out [D] at element offsets (x: the x half of the token's in_proj row);
// w [D, K]; bias [D]; state [K−1, D] token-major (row j = position j − (K−1), oldest first), updated in place.
// Tiling: one thread per channel, 256 per workgroup (1-D, coalesced per state row).

struct Params {
  D: u32, K: u32, flags: u32, xOff: u32,   // flags: bit 0 has bias, bit 1 SiLU
  outOff: u32, _p0: u32, _p1: u32, _p2: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
@group(0) @binding(3) var<storage, read> Bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> State: array<f32>;
@group(0) @binding(5) var<storage, read_write> Out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let d = gid.x;
  let D = params.D;
  if (d >= D) { return; }
  let K = params.K;
  let x = X[params.xOff + d];
  var acc = 0.0;
  if ((params.flags & 1u) != 0u) { acc = Bias[d]; }
  for (var j = 0u; j + 1u < K; j++) {
    let s = State[j * D + d];
    acc += Wt[d * K + j] * s;
    if (j > 0u) { State[(j - 1u) * D + d] = s; }
  }
  acc += Wt[d * K + K - 1u] * x;
  if (K > 1u) { State[(K - 2u) * D + d] = x; }
  if ((params.flags & 2u) != 0u) { acc = acc / (1.0 + exp(-acc)); }
  Out[params.outOff + d] = acc;
}
