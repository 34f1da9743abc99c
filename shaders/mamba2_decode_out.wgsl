// mamba2_decode_out (Mamba-2 decode, one token, third of a layer's three dispatches; includes
// decode_matvec_lib.wgsl): the gated group norm folded into out_proj's prologue, and the residual add:
//   v = y ⊙ SiLU(z);  v ← v / sqrt(mean_{group}(v²) + eps) ⊙ w  (GR groups of K / GR channels, as mamba_ssm);
//   hidden += out_proj(v) (+ out_proj bias)
// Layout: acts (f32) holds hidden [D] at HID_OFF, z (the first K values of zxbcdt) at ZX_OFF, y [K] at Y_OFF; w =
// out_proj weight [D, K] (f32 or packed f16); pack (f32) holds the gated norm weight [K] at GN_OFF and the out_proj
// bias [D] at OUTB_OFF.
// Tiling: decode_matvec_lib.wgsl over the D rows; every workgroup recomputes the GR group statistics of the K inputs
// it reads anyway (no separate norm dispatch).

#include "activations_lib.wgsl"
#include "decode_matvec_lib.wgsl"
#include "decode_matvec_red_{RED}.wgsl"

override D: u32 = 1u;
override GR: u32 = 1u;
override EPS: f32 = 1e-5;
override HAS_OUT_BIAS: bool = false;
override GN_OFF: u32 = 0u;
override OUTB_OFF: u32 = 0u;
override HID_OFF: u32 = 0u;
override ZX_OFF: u32 = 0u;
override Y_OFF: u32 = 0u;

@group(0) @binding(0) var<storage, read_write> acts: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> pack: array<f32>;

var<workgroup> ginv: array<f32, GR>;

fn wchunk(seg: u32, i: u32) -> vec4<u32> { return w[i]; }
fn gated(k: u32) -> f32 { return acts[Y_OFF + k] * silu(acts[ZX_OFF + k]); }
fn xraw(k: u32) -> f32 {
  if (STAGED) { return xsGet(k); }
  return gated(k);
}
fn xglobal(k: u32) -> f32 { return gated(k) * ginv[k / (K / GR)] * pack[GN_OFF + k]; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g * ROWS >= D) { return; } // whole workgroup
  let slot = t / LANES;
  let lane = t % LANES;
  let row = g * ROWS + slot;
  let owner = lane == 0u && row < D;
  prefetch(0u, min(row, D - 1u), lane);
  var outB = 0.0;
  var h0 = 0.0;
  if (owner) {
    if (HAS_OUT_BIAS) { outB = pack[OUTB_OFF + row]; }
    h0 = acts[HID_OFF + row];
  }

  if (STAGED) {
    for (var k = t; k < K; k += WG) { xsSet(k, gated(k)); }
    workgroupBarrier();
  }
  let gs = K / GR;
  for (var gi = 0u; gi < GR; gi++) {
    var ss = 0.0;
    for (var k = gi * gs + t; k < (gi + 1u) * gs; k += WG) { let v = xraw(k); ss += v * v; }
    let inv = inverseSqrt(wgSum(t, ss) / f32(gs) + EPS);
    if (t == 0u) { ginv[gi] = inv; }
  }
  workgroupBarrier();
  if (STAGED) {
    for (var k = t; k < K; k += WG) { xsSet(k, xsGet(k) * ginv[k / gs] * pack[GN_OFF + k]); }
    workgroupBarrier();
  }
  let acc = laneSum(t, laneDotPf(0u, min(row, D - 1u), lane));
  if (owner) {
    var v = acc;
    if (HAS_OUT_BIAS) { v += outB; }
    acts[HID_OFF + row] = h0 + v;
  }
}
