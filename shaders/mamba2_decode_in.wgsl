// mamba2_decode_in (Mamba-2 decode, one token, first of a layer's three dispatches; includes decode_matvec_lib.wgsl):
//   u = RMSNorm(hidden) · g;   zxbcdt = in_proj(u) (+ in_proj bias) = z (DIN) | xBC (CD) | dt (heads)
//   for the CD conv channels c (rows CONV_OFF + c): xBC[c] = SiLU(conv_b[c] + Σ_{j<KC−1} conv_w[c, j] · state[j, c]
//   + conv_w[c, KC−1] · xBC_raw[c]), then the conv state shifts up one row and xBC_raw[c] becomes its last row
//   (the causal conv step folded into the projection's epilogue). z and dt are written as projected.
// Layout: acts (f32) holds hidden [K = d_model] at HID_OFF and zxbcdt [ROWS] at ZX_OFF; w = in_proj weight [ROWS, K]
// (f32 or packed f16); pack (f32) holds the block norm weight [K] at NORM_OFF, conv weight [CD, KC] at CONVW_OFF, conv
// bias [CD] at CONVB_OFF, in_proj bias [ROWS] at INB_OFF; conv state [KC−1, CD] token-major, oldest row first (as
// causal_conv1d_state.wgsl).
// Tiling: decode_matvec_lib.wgsl over the ROWS rows; each conv row's lane 0 owns its channel (no races on the state).
// Every workgroup recomputes the RMSNorm statistics of the d_model inputs it reads anyway.

#include "activations_lib.wgsl"
#include "decode_matvec_lib.wgsl"
#include "decode_matvec_red_{RED}.wgsl"

override ROWS_ALL: u32 = 1u;
override CD: u32 = 1u;
override CONV_OFF: u32 = 0u;
override KC: u32 = 4u;
override EPS: f32 = 1e-5;
override HAS_IN_BIAS: bool = false;
override HAS_CONV_BIAS: bool = true;
override NORM_OFF: u32 = 0u;
override CONVW_OFF: u32 = 0u;
override CONVB_OFF: u32 = 0u;
override INB_OFF: u32 = 0u;
override HID_OFF: u32 = 0u;
override ZX_OFF: u32 = 0u;

@group(0) @binding(0) var<storage, read_write> acts: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> pack: array<f32>;
@group(0) @binding(3) var<storage, read_write> convState: array<f32>;

var<private> nScale: f32 = 1.0;

fn wchunk(seg: u32, i: u32) -> vec4<u32> { return w[i]; }
fn xraw(k: u32) -> f32 {
  if (STAGED) { return xsGet(k); }
  return acts[HID_OFF + k];
}
fn xglobal(k: u32) -> f32 { return acts[HID_OFF + k] * nScale * pack[NORM_OFF + k]; }

// Conv taps held in registers (the state rows and weights are loaded before the prologue); wider convs read them in
// the epilogue.
const KPF: u32 = 8u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let g = wid.x + wid.y * nwg.x;
  let N = ROWS_ALL;
  if (g * ROWS >= N) { return; } // whole workgroup
  let slot = t / LANES;
  let lane = t % LANES;
  let row = g * ROWS + slot;
  let owner = lane == 0u && row < N;
  let isConv = row >= CONV_OFF && row < CONV_OFF + CD;
  let c = row - CONV_OFF;

  // Loads that do not depend on the normalised input, issued before the prologue: this lane's first weight chunks,
  // the in_proj bias and (conv channels) the conv state rows, weights and bias.
  prefetch(0u, min(row, N - 1u), lane);
  var inB = 0.0;
  var cb = 0.0;
  var cwLast = 0.0;
  var sv: array<f32, KPF>;
  var cw: array<f32, KPF>;
  let pfConv = KC - 1u <= KPF;
  if (owner) {
    if (HAS_IN_BIAS) { inB = pack[INB_OFF + row]; }
    if (isConv) {
      if (HAS_CONV_BIAS) { cb = pack[CONVB_OFF + c]; }
      cwLast = pack[CONVW_OFF + c * KC + KC - 1u];
      if (pfConv) {
        for (var j = 0u; j + 1u < KC; j++) {
          sv[j] = convState[j * CD + c];
          cw[j] = pack[CONVW_OFF + c * KC + j];
        }
      }
    }
  }

  var ng = vec4<f32>(1.0);
  if (STAGED) {
    for (var i = 0u; i < 4u; i++) {
      let k = t + i * WG;
      if (k < K) { ng[i] = pack[NORM_OFF + k]; }
    }
    for (var k = t; k < K; k += WG) { xsSet(k, acts[HID_OFF + k]); }
    workgroupBarrier();
  }
  nScale = normStats(t, 1u, EPS).y;
  if (STAGED) {
    for (var i = 0u; i < 4u; i++) {
      let k = t + i * WG;
      if (k < K) { xsSet(k, xsGet(k) * nScale * ng[i]); }
    }
    for (var k = t + 4u * WG; k < K; k += WG) { xsSet(k, xsGet(k) * nScale * pack[NORM_OFF + k]); }
    workgroupBarrier();
  }
  let acc = laneSum(t, laneDotPf(0u, min(row, N - 1u), lane));
  if (owner) {
    var v = acc;
    if (HAS_IN_BIAS) { v += inB; }
    if (isConv) {
      var a = cb;
      if (pfConv) {
        for (var j = 0u; j + 1u < KC; j++) {
          a += cw[j] * sv[j];
          if (j > 0u) { convState[(j - 1u) * CD + c] = sv[j]; }
        }
      } else {
        for (var j = 0u; j + 1u < KC; j++) {
          let s = convState[j * CD + c];
          a += pack[CONVW_OFF + c * KC + j] * s;
          if (j > 0u) { convState[(j - 1u) * CD + c] = s; }
        }
      }
      a += cwLast * v;
      if (KC > 1u) { convState[(KC - 2u) * CD + c] = v; }
      acts[ZX_OFF + row] = silu(a);
    } else {
      acts[ZX_OFF + row] = v;
    }
  }
}
