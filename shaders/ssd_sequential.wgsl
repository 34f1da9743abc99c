// ssd_sequential: Mamba-2's SSM as the plain recurrence (the 'sequential' baseline of the fused/sequential toggle).
// One thread per channel (h, p) keeps its state row S[h, p, :] (NS values, NV vec4) in registers and walks the L
// tokens:  Δ = clamp(softplus(dt_t + dt_bias_h), lo, hi);  S = exp(Δ·A_h)·S + (Δ·x_t[p])·B_t;  y_t[p] = S·C_t + D_h·x_t[p].
// Layouts as ssd_chunk_state / ssd_chunk_out (x, B, C in XBC with one row stride; raw dt in DT; W = [A_log | D |
// dt_bias]; Y [L, HEADS·PD] strided view); Hin, Hout [HEADS, PD, NS]; initMode 0: zero state, 1: from Hin, 2: from
// Hout (in place). Tiling: a workgroup owns WG consecutive channels of ONE group (grid (ceil(HPG·PD / WG), G)), so
// all its threads share the B, C rows, which are staged per tile of TT tokens in workgroup memory (2·TT·NV vec4).
// Consts: NS, NV, PD, HEADS, HPG, WG, TT.

#include "activations_lib.wgsl"

struct Params {
  L: u32, xOff: u32, bOff: u32, cOff: u32,
  xbcStride: u32, dtOff: u32, dtStride: u32, yOff: u32,
  yStride: u32, initMode: u32, _p0: u32, _p1: u32,
  lo: f32, hi: f32, _p2: u32, _p3: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> XBC: array<f32>;
@group(0) @binding(2) var<storage, read> DT: array<f32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
@group(0) @binding(4) var<storage, read> Hin: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@group(0) @binding(6) var<storage, read_write> Hout: array<f32>;

var<workgroup> sbc: array<vec4<f32>, 2u * TT * NV>;  // token j: B at (2j)·NV, C at (2j + 1)·NV

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.y;
  let q = wid.x * WG + lid;                 // channel within the group
  let live = q < HPG * PD;
  let ch = g * HPG * PD + min(q, HPG * PD - 1u);   // channel h·PD + p
  let h = ch / PD;
  let A = -exp(W[h]);
  let Dh = W[HEADS + h];
  let bias = W[2u * HEADS + h];

  var S: array<vec4<f32>, NV>;
  for (var v = 0u; v < NV; v++) {
    var s4 = vec4<f32>(0.0);
    for (var i = 0u; i < 4u; i++) {
      let n = v * 4u + i;
      if (n < NS) {
        if (params.initMode == 1u) { s4[i] = Hin[ch * NS + n]; } else if (params.initMode == 2u) { s4[i] = Hout[ch * NS + n]; }
      }
    }
    S[v] = s4;
  }

  for (var t0 = 0u; t0 < params.L; t0 += TT) {
    let cnt = min(TT, params.L - t0);
    workgroupBarrier();
    for (var i = lid; i < 2u * TT * NV * 4u; i += WG) {
      let j = i / (2u * NV * 4u);
      let rem = i % (2u * NV * 4u);
      let isC = rem >= NV * 4u;
      let n = rem % (NV * 4u);
      var v = 0.0;
      if (j < cnt && n < NS) { v = XBC[select(params.bOff, params.cOff, isC) + (t0 + j) * params.xbcStride + g * NS + n]; }
      sbc[i / 4u][i % 4u] = v;
    }
    workgroupBarrier();
    for (var j = 0u; j < cnt; j++) {
      let t = t0 + j;
      let dt = clamp(softplus(DT[params.dtOff + t * params.dtStride + h] + bias), params.lo, params.hi);
      let x = XBC[params.xOff + t * params.xbcStride + ch];
      let decay = exp(dt * A);
      let dx = dt * x;
      var acc = vec4<f32>(0.0);
      for (var v = 0u; v < NV; v++) {
        S[v] = decay * S[v] + dx * sbc[(2u * j) * NV + v];
        acc += S[v] * sbc[(2u * j + 1u) * NV + v];
      }
      if (live) { Y[params.yOff + t * params.yStride + ch] = acc.x + acc.y + acc.z + acc.w + Dh * x; }
    }
  }

  if (live) {
    for (var v = 0u; v < NV; v++) {
      for (var i = 0u; i < 4u; i++) {
        let n = v * 4u + i;
        if (n < NS) { Hout[ch * NS + n] = S[v][i]; }
      }
    }
  }
}
