// selective_scan_unfused_discretize: baseline pass 1 of the unfused selective scan. For a segment of Ls tokens
// starting at t0, writes the expanded discretized arrays to global memory:
//   dA[tl, d, n]  = exp(Δ·A[d, n]),   dBu[tl, d, n] = Δ·B[t, n]·u[t, d],   Δ = softplus(delta[t, d] + deltaBias[d])
// (t = t0 + tl). Layouts: u, delta [L, D] views; B [L, N] view in `bc`; w packed SSM params [A | Dskip | deltaBias];
// dA, dBu [Ls, D, N]. Tiling: one thread per output element (flat, n fastest), 256 per workgroup, 2-D grid with a
// grid-stride loop.

#include "ssm_lib.wgsl"

struct Params {
  t0: u32, Ls: u32, D: u32, N: u32,
  uOff: u32, uStride: u32, dOff: u32, dStride: u32,
  bOff: u32, bcStride: u32, stride: u32, _p0: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read> Delta: array<f32>;
@group(0) @binding(3) var<storage, read> BC: array<f32>;
@group(0) @binding(4) var<storage, read> W: array<f32>;
@group(0) @binding(5) var<storage, read_write> DA: array<f32>;
@group(0) @binding(6) var<storage, read_write> DBU: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let N = params.N;
  let D = params.D;
  let total = params.Ls * D * N;
  var i = gid.x + gid.y * nwg.x * 256u;
  loop {
    if (i >= total) { break; }
    let n = i % N;
    let d = (i / N) % D;
    let t = params.t0 + i / (N * D);
    let dt = softplus(Delta[params.dOff + t * params.dStride + d] + W[D * N + D + d]);
    DA[i] = exp(dt * W[d * N + n]);
    DBU[i] = dt * BC[params.bOff + t * params.bcStride + n] * U[params.uOff + t * params.uStride + d];
    i += params.stride;
  }
}
