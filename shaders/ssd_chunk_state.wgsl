// ssd_chunk_state: pass 1 of Mamba-2's chunked SSD prefill. For chunk c and head h (one workgroup each; grid
// (nChunks, HEADS)) it computes Δ_s = clamp(softplus(dt_s + dt_bias_h), lo, hi) and the cumulative log decay
// cs_s = Σ_{k ≤ s} Δ_k·A_h over the chunk's tokens (a parallel scan in workgroup memory), then the chunk's end state
// from zero state, a (p × n) matrix product over the chunk's tokens:
//   E[c, h, p, n] = Σ_s x_s[p] · (exp(cs_end − cs_s) · Δ_s) · B_s[n]
// and the chunk's total log decay Csum[c, h] = cs_end (pass 2 decays carried states by exp(Csum)).
// Layouts: XBC holds x [L, HEADS·PD] at xOff and B [L, G·NS] at bOff, one row stride (the conv output); DT the raw
// dt [L, HEADS] at dtOff (in_proj output); W packed per-head params [A_log (HEADS) | D (HEADS) | dt_bias (HEADS)];
// E [nChunks, HEADS, PD, NS]; Csum [nChunks, HEADS]. Head h reads group h / HPG of B.
// Tiling: tokens in tiles of TS: the workgroup stages B rows (TS × NV vec4, zero past the chunk / NS) and x·w rows
// (TS × PD) in workgroup memory, then each thread accumulates OPT outputs (p, 4 states) of the flat P·NV grid
// (o = lid + k·WG) from workgroup memory. Consts: NS, NV = ceil(NS/4), PD, HEADS, HPG, WG, TS, QMAX (≥ chunk),
// QPT = ceil(QMAX / WG), OPT = ceil(PD·NV / WG).

#include "activations_lib.wgsl"
#include "ssd_lib.wgsl"

struct Params {
  L: u32, chunk: u32, nChunks: u32, xOff: u32,
  bOff: u32, xbcStride: u32, dtOff: u32, dtStride: u32,
  lo: f32, hi: f32, _p0: u32, _p1: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> XBC: array<f32>;
@group(0) @binding(2) var<storage, read> DT: array<f32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
@group(0) @binding(4) var<storage, read_write> E: array<f32>;
@group(0) @binding(5) var<storage, read_write> Csum: array<f32>;

// Every thread's outputs share one state column (n / 4) when the workgroup size is a multiple of NV.
const SAMEV: bool = (WG % NV) == 0u;

var<workgroup> sdt: array<f32, QMAX>;      // Δ_s
var<workgroup> scs: array<f32, QMAX>;      // cs_s (inclusive cumulative Δ·A)
var<workgroup> part: array<f32, WG>;       // scan partials
var<workgroup> sb: array<vec4<f32>, TS * NV>;
var<workgroup> sx: array<f32, TS * PD>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let h = wid.y;
  let g = h / HPG;
  let t0 = c * params.chunk;
  let len = min(params.chunk, params.L - t0);
  let A = -exp(W[h]);
  let bias = W[2u * HEADS + h];
  chunkCumsum(lid, t0, len, h, A, bias);
  let csEnd = scs[len - 1u];
  if (lid == 0u) { Csum[c * HEADS + h] = csEnd; }

  var acc: array<vec4<f32>, OPT>;
  for (var k = 0u; k < OPT; k++) { acc[k] = vec4<f32>(0.0); }
  for (var s0 = 0u; s0 < len; s0 += TS) {
    // stage B rows and x·w rows of tokens s0 .. s0 + TS
    for (var i = lid; i < TS * NV * 4u; i += WG) {
      let j = i / (NV * 4u);
      let n = i % (NV * 4u);
      var v = 0.0;
      if (s0 + j < len && n < NS) { v = XBC[params.bOff + (t0 + s0 + j) * params.xbcStride + g * NS + n]; }
      sb[i / 4u][i % 4u] = v;
    }
    for (var i = lid; i < TS * PD; i += WG) {
      let j = i / PD;
      let p = i % PD;
      var v = 0.0;
      if (s0 + j < len) {
        let s = s0 + j;
        v = XBC[params.xOff + (t0 + s) * params.xbcStride + h * PD + p] * exp(csEnd - scs[s]) * sdt[s];
      }
      sx[i] = v;
    }
    workgroupBarrier();
    // token-outer: per staged token one B vec4 (shared by all k when WG % NV == 0) and OPT x·w values feed OPT vec4
    // FMAs; past the chunk end the staged rows are zero, so every thread runs the full tile.
    for (var j = 0u; j < TS; j++) {
      let bv = sb[j * NV + lid % NV];
      for (var k = 0u; k < OPT; k++) {
        let o = lid + k * WG;
        if (o < PD * NV) {
          let b = select(sb[j * NV + o % NV], bv, SAMEV);
          acc[k] += sx[j * PD + o / NV] * b;
        }
      }
    }
    workgroupBarrier();
  }
  for (var k = 0u; k < OPT; k++) {
    let o = lid + k * WG;
    if (o < PD * NV) {
      let p = o / NV;
      let v = o % NV;
      let base = ((c * HEADS + h) * PD + p) * NS;
      for (var i = 0u; i < 4u; i++) {
        let n = v * 4u + i;
        if (n < NS) { E[base + n] = acc[k][i]; }
      }
    }
  }
}
