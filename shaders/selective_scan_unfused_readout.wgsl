// selective_scan_unfused_readout: baseline pass 3 of the unfused selective scan. One thread per (token, channel) of
// the segment: y = Σ_n C[t, n]·H[tl, d, n] + Dskip[d]·u[t, d], times SiLU(z[t, d]) when gated, written to y[t, d].
// Layouts: H [Ls, D, N] (scan output); C [L, N] view in `bc`; u, z, y [L, D] views; w packed SSM params.
// Tiling: one thread per output element (d fastest), 256 per workgroup, 2-D grid with a grid-stride loop.

#include "ssm_lib.wgsl"

struct Params {
  t0: u32, Ls: u32, D: u32, N: u32,
  uOff: u32, uStride: u32, zOff: u32, zStride: u32,
  cOff: u32, bcStride: u32, yOff: u32, yStride: u32,
  hasZ: u32, stride: u32, _p0: u32, _p1: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> H: array<f32>;
@group(0) @binding(2) var<storage, read> BC: array<f32>;
@group(0) @binding(3) var<storage, read> U: array<f32>;
@group(0) @binding(4) var<storage, read> Z: array<f32>;
@group(0) @binding(5) var<storage, read> W: array<f32>;
@group(0) @binding(6) var<storage, read_write> Y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let N = params.N;
  let D = params.D;
  let total = params.Ls * D;
  var i = gid.x + gid.y * nwg.x * 256u;
  loop {
    if (i >= total) { break; }
    let d = i % D;
    let tl = i / D;
    let t = params.t0 + tl;
    var acc = 0.0;
    for (var n = 0u; n < N; n++) {
      acc += BC[params.cOff + t * params.bcStride + n] * H[(tl * D + d) * N + n];
    }
    let u = U[params.uOff + t * params.uStride + d];
    var y = acc + W[D * N + d] * u;
    if (params.hasZ != 0u) { y *= silu(Z[params.zOff + t * params.zStride + d]); }
    Y[params.yOff + t * params.yStride + d] = y;
    i += params.stride;
  }
}
