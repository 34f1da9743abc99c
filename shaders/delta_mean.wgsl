// delta_mean (selectivity view, Mamba): out[outOff + t] = (1/D) · Σ_c softplus(delta[t, c] + bias[c]), the step size
// Δ of token t averaged over the D channels (what the model chose to write into its state at that token); with
// clampDt (Mamba-2's time_step_limit) each Δ is clamped into [lo, hi] first.
// Layout: delta rows of D floats in a strided view (delta[xOff + t·xStride + c]); bias[D]; out[outOff + t], f32.
// Tiling: one workgroup of 64 threads per token (grid (min(L, 32768), ceil(L / 32768))); each thread strides over the
// channels, partial sums reduced in workgroup memory.

#include "activations_lib.wgsl"

struct Params {
  L: u32,
  D: u32,
  xOff: u32,
  xStride: u32,
  outOff: u32,
  clampDt: u32,
  lo: f32,
  hi: f32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> delta: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = wg.x + wg.y * 32768u;
  if (t >= params.L) { return; }
  let i = lid.x;
  let row = params.xOff + t * params.xStride;
  var s = 0.0;
  for (var c = i; c < params.D; c += 64u) {
    var dt = softplus(delta[row + c] + bias[c]);
    if (params.clampDt != 0u) { dt = clamp(dt, params.lo, params.hi); }
    s += dt;
  }
  red[i] = s;
  workgroupBarrier();
  for (var w = 32u; w > 0u; w >>= 1u) {
    if (i < w) { red[i] += red[i + w]; }
    workgroupBarrier();
  }
  if (i == 0u) { out[params.outOff + t] = red[0] / f32(params.D); }
}
