// causal_conv1d_state: after a prefill of L tokens, writes the conv state the decode step needs: the last K−1 inputs,
// state[j, d] = x[L − (K−1) + j, d], taking positions before 0 from the old state (when hasState) or zero — which is
// what happens when L < K−1. Updated in place: one thread per channel walks j upward, and row j only reads old row
// L + j > j, so no row is overwritten before it is read.
// Layouts: x [L, D] strided view; state [K−1, D] token-major (row j = position j − (K−1), oldest first).
// Tiling: one thread per channel, 256 per workgroup (1-D, coalesced per row).

struct Params {
  L: u32, D: u32, K: u32, hasState: u32,
  xOff: u32, xStride: u32, _p0: u32, _p1: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> State: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let d = gid.x;
  let D = params.D;
  if (d >= D) { return; }
  let km1 = params.K - 1u;
  for (var j = 0u; j < km1; j++) {
    // position s = L − (K−1) + j
    var v = 0.0;
    if (params.L + j >= km1) {
      v = X[params.xOff + (params.L + j - km1) * params.xStride + d];
    } else if (params.hasState != 0u) {
      v = State[(params.L + j) * D + d];
    }
    State[j * D + d] = v;
  }
}
