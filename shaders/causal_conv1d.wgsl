// causal_conv1d: Mamba's causal depthwise conv1d over a prefill, with bias and optional fused SiLU:
//   out[t, d] = act(bias[d] + Σ_{k<K} w[d, k] · x[t − (K−1) + k, d])
// where positions before 0 read the conv state (previous tokens, when hasState) or zero (causal left padding).
// Layouts: x [L, D] strided view (the x half of in_proj output: offset 0, row stride 2D); w [D, K] (HF [D, 1, K]);
// bias [D]; state [K−1, D] token-major, row j = input at position j − (K−1) (oldest first); out [L, D] strided view.
// Tiling: one thread per output element (d fastest, so loads and stores are coalesced across channels), 256 per
// workgroup, 2-D grid with a grid-stride loop. The state update is a separate pass (causal_conv1d_state).

struct Params {
  L: u32, D: u32, K: u32, flags: u32,   // flags: bit 0 has bias, bit 1 SiLU, bit 2 has initial state
  xOff: u32, xStride: u32, outOff: u32, outStride: u32,
  stride: u32, _p0: u32, _p1: u32, _p2: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
@group(0) @binding(3) var<storage, read> Bias: array<f32>;
@group(0) @binding(4) var<storage, read> State: array<f32>;
@group(0) @binding(5) var<storage, read_write> Out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let D = params.D;
  let K = params.K;
  let total = params.L * D;
  let hasState = (params.flags & 4u) != 0u;
  var i = gid.x + gid.y * nwg.x * 256u;
  loop {
    if (i >= total) { break; }
    let d = i % D;
    let t = i / D;
    var acc = 0.0;
    if ((params.flags & 1u) != 0u) { acc = Bias[d]; }
    for (var k = 0u; k < K; k++) {
      // source position s = t − (K−1) + k; negative positions live in state row s + K − 1 = t + k
      if (t + k >= K - 1u) {
        acc += Wt[d * K + k] * X[params.xOff + (t + k - (K - 1u)) * params.xStride + d];
      } else if (hasState) {
        acc += Wt[d * K + k] * State[(t + k) * D + d];
      }
    }
    if ((params.flags & 2u) != 0u) { acc = acc / (1.0 + exp(-acc)); }
    Out[params.outOff + t * params.outStride + d] = acc;
    i += params.stride;
  }
}
