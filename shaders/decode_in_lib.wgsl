// decode_in_lib: the body the Mamba and Mamba-2 decode-in kernels share (mamba_decode_in, mamba2_decode_in). Not a
// kernel: those shaders `#include` it and call decodeIn from their entry point.
//   x = RMSNorm(hidden) · g;   out = in_proj(x) (+ in_proj bias) over ROWS_ALL rows;
//   the CD conv rows CONV_OFF + c: out = SiLU(conv_b[c] + Σ_{j<KC−1} conv_w[c, j] · state[j, c] + conv_w[c, KC−1] · v),
//   v the projected row, then the conv state shifts up one row and v becomes its last row (the causal conv step folded
//   into the projection's epilogue); the other rows are written as projected.
// Layout: pack (f32) holds the norm weight [K] at NORM_OFF, conv weight [CD, KC] at CONVW_OFF, conv bias [CD] at
// CONVB_OFF, in_proj bias [ROWS_ALL] at INB_OFF; conv state [KC−1, CD] token-major, oldest row first (as
// causal_conv1d_state.wgsl).
// Tiling: decode_matvec_lib.wgsl over the ROWS_ALL rows; each conv row's lane 0 owns its channel (no races on the
// state). Every workgroup recomputes the RMSNorm statistics of the d_model inputs it reads anyway.
// What each kernel declares: the overrides ROWS_ALL, CD, CONV_OFF; the bindings w (in_proj weight), pack, convState;
// hiddenAt(k) -> f32 (input k) and storeRow(row, v) (where row's result goes).

#include "activations_lib.wgsl"
#include "decode_matvec_lib.wgsl"

override KC: u32 = 4u;
override EPS: f32 = 1e-5;
override HAS_IN_BIAS: bool = false;
override HAS_CONV_BIAS: bool = true;
override NORM_OFF: u32 = 0u;
override CONVW_OFF: u32 = 0u;
override CONVB_OFF: u32 = 0u;
override INB_OFF: u32 = 0u;

var<private> nScale: f32 = 1.0;

fn wchunk(seg: u32, i: u32) -> vec4<u32> { return w[i]; }
fn xraw(k: u32) -> f32 {
  if (STAGED) { return xsGet(k); }
  return hiddenAt(k);
}
fn xglobal(k: u32) -> f32 { return hiddenAt(k) * nScale * pack[NORM_OFF + k]; }

// Conv taps held in registers (the state rows and weights are loaded before the prologue); wider convs (KC > 9)
// read them in the epilogue.
const KPF: u32 = 8u;

// g: the workgroup's index; t: the thread's index in it.
fn decodeIn(g: u32, t: u32) {
  let N = ROWS_ALL;
  if (g * ROWS >= N) { return; } // whole workgroup
  let slot = t / LANES;
  let lane = t % LANES;
  let row = g * ROWS + slot;
  let owner = lane == 0u && row < N;
  let isConv = row >= CONV_OFF && row < CONV_OFF + CD;
  let c = row - CONV_OFF;

  // Loads that do not depend on the normalised input, issued before the prologue so their latency overlaps it: this
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

  // the norm weight of this thread's first four staged inputs, loaded with x rather than after the statistics
  var ng = vec4<f32>(1.0);
  if (STAGED) {
    for (var i = 0u; i < 4u; i++) {
      let k = t + i * WG;
      if (k < K) { ng[i] = pack[NORM_OFF + k]; }
    }
    for (var k = t; k < K; k += WG) { xsSet(k, hiddenAt(k)); }
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
      storeRow(row, silu(a));
    } else {
      storeRow(row, v);
    }
  }
}
