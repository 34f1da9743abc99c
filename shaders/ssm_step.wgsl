// ssm_step: one decode step of the Mamba v1 SSM, O(1) in the context length. One thread per (channel d, state n):
//   Δ = softplus(delta[d] + deltaBias[d]);  h[d,n] = exp(Δ·A[d,n])·h[d,n] + Δ·B[n]·x[d]   (state updated in place)
// then the N threads of a channel reduce C·h in workgroup memory and one writes y[d] = (Σ_n C[n]·h[d,n] + Dskip·x)
// · SiLU(z[d]). Layouts: x, delta, z, y [D] at element offsets; B, C [N] at offsets in `bc` (x_proj output row);
// w packed SSM params [A (D·N) | Dskip (D) | deltaBias (D)]; state [D, N].
// Tiling: 256 threads per workgroup = CPW = 256/NS channels × NS states (lid = c·NS + n; coalesced state access).

#include "ssm_lib.wgsl"

struct Params {
  D: u32, xOff: u32, dOff: u32, zOff: u32,
  bOff: u32, cOff: u32, yOff: u32, hasZ: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Delta: array<f32>;
@group(0) @binding(3) var<storage, read> Z: array<f32>;
@group(0) @binding(4) var<storage, read> BC: array<f32>;
@group(0) @binding(5) var<storage, read> W: array<f32>;
@group(0) @binding(6) var<storage, read_write> S: array<f32>;
@group(0) @binding(7) var<storage, read_write> Y: array<f32>;

const CPW: u32 = 256u / NS;
var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let D = params.D;
  let c = lid.x / NS;
  let n = lid.x % NS;
  let d = wid.x * CPW + c;
  let live = c < CPW && d < D;
  var contrib = 0.0;
  if (live) {
    let x = X[params.xOff + d];
    let dt = softplus(Delta[params.dOff + d] + W[D * NS + D + d]);
    let k = d * NS + n;
    let h = exp(dt * W[k]) * S[k] + dt * BC[params.bOff + n] * x;
    S[k] = h;
    contrib = BC[params.cOff + n] * h;
  }
  part[lid.x] = contrib;
  workgroupBarrier();
  if (live && n == 0u) {
    var acc = 0.0;
    for (var i = 0u; i < NS; i++) { acc += part[lid.x + i]; }
    let x = X[params.xOff + d];
    var y = acc + W[D * NS + d] * x;
    if (params.hasZ != 0u) { y *= silu(Z[params.zOff + d]); }
    Y[params.yOff + d] = y;
  }
}
