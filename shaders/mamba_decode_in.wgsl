// mamba_decode_in (Mamba decode, one token, first of a layer's four dispatches; includes decode_matvec_lib.wgsl):
//   x_norm = RMSNorm(hidden) · g;   (x | z) = in_proj(x_norm) (+ in_proj bias)
//   u[c] = SiLU(conv_b[c] + Σ_{j<KC−1} conv_w[c, j] · state[j, c] + conv_w[c, KC−1] · x[c]), then the conv state
//   shifts up one row and x[c] becomes its last row (causal_conv1d_step folded into the projection's epilogue);
//   uz = (u | z) [2·DIN].
// Layout: hidden [K = d_model]; w = in_proj weight [2·DIN, K] (f32 or packed f16); pack (f32) holds the norm weight
// [K] at NORM_OFF, conv weight [DIN, KC] at CONVW_OFF, conv bias [DIN] at CONVB_OFF, in_proj bias [2·DIN] at INB_OFF;
// conv state [KC−1, DIN] token-major, oldest row first (as causal_conv1d_state.wgsl); uz [2·DIN].
// Tiling: decode_matvec_lib.wgsl over the 2·DIN rows; each row's lane 0 owns channel c = row (< DIN): no races on
// the state. Every workgroup recomputes the RMSNorm statistics of the d_model inputs it reads anyway.

#include "activations_lib.wgsl"
#include "decode_matvec_lib.wgsl"
#include "decode_matvec_red_{RED}.wgsl"

override DIN: u32 = 1u;
override KC: u32 = 4u;
override EPS: f32 = 1e-5;
override HAS_IN_BIAS: bool = false;
override HAS_CONV_BIAS: bool = true;
override NORM_OFF: u32 = 0u;
override CONVW_OFF: u32 = 0u;
override CONVB_OFF: u32 = 0u;
override INB_OFF: u32 = 0u;

@group(0) @binding(0) var<storage, read> hidden: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> pack: array<f32>;
@group(0) @binding(3) var<storage, read_write> convState: array<f32>;
@group(0) @binding(4) var<storage, read_write> uz: array<f32>;

var<private> nScale: f32 = 1.0;

fn wchunk(seg: u32, i: u32) -> vec4<u32> { return w[i]; }
fn xraw(k: u32) -> f32 {
  if (STAGED) { return xsGet(k); }
  return hidden[k];
}
fn xglobal(k: u32) -> f32 { return hidden[k] * nScale * pack[NORM_OFF + k]; }

// Conv taps held in registers (the state rows and weights are loaded before the prologue); wider convs (KC > 9)
// read them in the epilogue.
const KPF: u32 = 8u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let g = wid.x + wid.y * nwg.x;
  let N = 2u * DIN;
  if (g * ROWS >= N) { return; } // whole workgroup
  let slot = t / LANES;
  let lane = t % LANES;
  let row = g * ROWS + slot;
  let owner = lane == 0u && row < N;

  // Loads that do not depend on the normalised x, issued before the prologue so their latency overlaps it: this
  // lane's first weight chunks, the in_proj bias, and (conv channels) the conv state rows, weights and bias.
  prefetch(0u, min(row, N - 1u), lane);
  var inB = 0.0;
  var cb = 0.0;
  var cwLast = 0.0;
  var sv: array<f32, KPF>;
  var cw: array<f32, KPF>;
  let pfConv = KC - 1u <= KPF;
  if (owner) {
    if (HAS_IN_BIAS) { inB = pack[INB_OFF + row]; }
    if (row < DIN) {
      let c = row;
      if (HAS_CONV_BIAS) { cb = pack[CONVB_OFF + c]; }
      cwLast = pack[CONVW_OFF + c * KC + KC - 1u];
      if (pfConv) {
        for (var j = 0u; j + 1u < KC; j++) {
          sv[j] = convState[j * DIN + c];
          cw[j] = pack[CONVW_OFF + c * KC + j];
        }
      }
    }
  }

  // the norm weight of this thread's first four staged inputs, loaded with x rather than after the statistics
  var ng = vec4<f32>(1.0);
  if (STAGED) {
    for (var i = 0u; i < 4u; i++) {
      let k = t + i * WG;
      if (k < K) { ng[i] = pack[NORM_OFF + k]; }
    }
    for (var k = t; k < K; k += WG) { xsSet(k, hidden[k]); }
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
    if (row < DIN) {
      let c = row;
      var a = cb;
      if (pfConv) {
        for (var j = 0u; j + 1u < KC; j++) {
          a += cw[j] * sv[j];
          if (j > 0u) { convState[(j - 1u) * DIN + c] = sv[j]; }
        }
      } else {
        for (var j = 0u; j + 1u < KC; j++) {
          let s = convState[j * DIN + c];
          a += pack[CONVW_OFF + c * KC + j] * s;
          if (j > 0u) { convState[(j - 1u) * DIN + c] = s; }
        }
      }
      a += cwLast * v;
      if (KC > 1u) { convState[(KC - 2u) * DIN + c] = v; }
      uz[c] = silu(a);
    } else {
      uz[row] = v;
    }
  }
}
