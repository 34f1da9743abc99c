// ssd_chunk_out: pass 3 of Mamba-2's chunked SSD prefill, the outputs. One workgroup per tile of T consecutive
// tokens (inside one chunk: chunk % T == 0) and head h; grid (ceil(L / T) over the chunks' tiles, HEADS). For each
// token t of the tile and channel p of the head, with cs the chunk's cumulative log decay (recomputed here as in
// pass 1) and S_in the chunk's incoming state (pass 2):
//   y_t[p] = Σ_{s ≤ t in chunk} (C_t·B_s) · exp(cs_t − cs_s) · Δ_s · x_s[p]      intra-chunk ("attention-like" part)
//          + exp(cs_t) · Σ_n S_in[p, n] · C_t[n]                                 from the carried state
//          + D_h · x_t[p]                                                        skip
// Layouts as ssd_chunk_state (x, B, C in XBC with one row stride; raw dt in DT; W = [A_log | D | dt_bias]); S_in
// [nChunks, HEADS, PD, NS]; Y [L, HEADS·PD] strided view (the gate and norm come after, in ssd_gated_norm).
// Tiling like our flash attention, in fp32 FMAs: the tile's C rows stay in workgroup memory; the earlier tokens of
// the chunk go by in key tiles of T (B rows, x·Δ rows staged); per key tile the T×T decayed, causally masked scores
// C_t·B_s (one per thread: WG = T·T) go to workgroup memory, then each thread adds OPT = ceil(T·PD / WG) outputs
// (o = lid + k·WG: token o / PD, channel o % PD) Σ_s score·x·Δ. Consts: NS, NV, PD, HEADS, HPG, T, WG = T·T,
// QMAX (≥ chunk), QPT = ceil(QMAX / WG), OPT.

#include "activations_lib.wgsl"
#include "ssd_lib.wgsl"

struct Params {
  L: u32, chunk: u32, nChunks: u32, xOff: u32,
  bOff: u32, cOff: u32, xbcStride: u32, dtOff: u32,
  dtStride: u32, yOff: u32, yStride: u32, _p0: u32,
  lo: f32, hi: f32, _p1: u32, _p2: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> XBC: array<f32>;
@group(0) @binding(2) var<storage, read> DT: array<f32>;
@group(0) @binding(3) var<storage, read> W: array<f32>;
@group(0) @binding(4) var<storage, read> Sin: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;

var<workgroup> sdt: array<f32, QMAX>;
var<workgroup> scs: array<f32, QMAX>;
var<workgroup> part: array<f32, WG>;
var<workgroup> sc: array<vec4<f32>, T * NV>;   // C rows of the tile
var<workgroup> sb: array<vec4<f32>, T * NV>;   // B rows of the key tile
var<workgroup> sx: array<f32, T * PD>;         // x·Δ rows of the key tile
var<workgroup> sw: array<f32, T * T>;          // decayed, masked scores

// Every thread's outputs share one channel p when the workgroup size is a multiple of PD.
const SAMEP: bool = (WG % PD) == 0u;

// States n = 4v .. 4v + 3 of the row at `base` (zero past NS).
fn loadState(base: u32, v: u32) -> vec4<f32> {
  var s4 = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    let n = v * 4u + i;
    if (n < NS) { s4[i] = Sin[base + n]; }
  }
  return s4;
}

// Stages rows s0 .. s0 + T of B (or C) of group g into `dst` (zero past len or NS).
fn stageRows(which: u32, t0: u32, s0: u32, len: u32, g: u32, lid: u32) {
  let off = select(params.bOff, params.cOff, which == 1u);
  for (var i = lid; i < T * NV * 4u; i += WG) {
    let j = i / (NV * 4u);
    let n = i % (NV * 4u);
    var v = 0.0;
    if (s0 + j < len && n < NS) { v = XBC[off + (t0 + s0 + j) * params.xbcStride + g * NS + n]; }
    if (which == 1u) { sc[i / 4u][i % 4u] = v; } else { sb[i / 4u][i % 4u] = v; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tiles = params.chunk / T;
  let c = wid.x / tiles;
  let r0 = (wid.x % tiles) * T;          // the tile's first token within the chunk
  let h = wid.y;
  let g = h / HPG;
  let t0 = c * params.chunk;
  if (t0 + r0 >= params.L) { return; }   // whole workgroup
  let len = min(r0 + T, params.L - t0);  // tokens of the chunk this tile needs: [0, len)
  let A = -exp(W[h]);
  let Dh = W[HEADS + h];
  let bias = W[2u * HEADS + h];
  chunkCumsum(lid, t0, len, h, A, bias);
  stageRows(1u, t0, r0, len, g, lid);
  workgroupBarrier();

  // from the carried state: exp(cs_t) · S_in C_t. State-outer: one vec4 of S_in row p (shared by all k when
  // WG % PD == 0) feeds OPT dot products with the staged C rows.
  var acc: array<f32, OPT>;
  var acc4: array<vec4<f32>, OPT>;
  for (var k = 0u; k < OPT; k++) { acc4[k] = vec4<f32>(0.0); }
  let sBase = (c * HEADS + h) * PD * NS;
  for (var v = 0u; v < NV; v++) {
    let s0 = loadState(sBase + (lid % PD) * NS, v);
    for (var k = 0u; k < OPT; k++) {
      let o = lid + k * WG;
      if (o < T * PD) {
        var s4 = s0;
        if (!SAMEP) { s4 = loadState(sBase + (o % PD) * NS, v); }
        acc4[k] += s4 * sc[(o / PD) * NV + v];
      }
    }
  }
  for (var k = 0u; k < OPT; k++) {
    let r = (lid + k * WG) / PD;
    let v4 = acc4[k];
    acc[k] = select(0.0, exp(scs[min(r0 + r, QMAX - 1u)]) * (v4.x + v4.y + v4.z + v4.w), r0 + r < len);
  }

  // intra-chunk: key tiles s0 = 0, T, … up to and including the tile itself
  let ti = lid / T;
  let tj = lid % T;
  for (var s0 = 0u; s0 <= r0; s0 += T) {
    stageRows(0u, t0, s0, len, g, lid);
    for (var i = lid; i < T * PD; i += WG) {
      let j = i / PD;
      let p = i % PD;
      var v = 0.0;
      if (s0 + j < len) { v = XBC[params.xOff + (t0 + s0 + j) * params.xbcStride + h * PD + p] * sdt[s0 + j]; }
      sx[i] = v;
    }
    workgroupBarrier();
    let row = r0 + ti;
    let col = s0 + tj;
    var w = 0.0;
    if (col <= row && row < len) {
      var d4 = vec4<f32>(0.0);
      for (var v = 0u; v < NV; v++) { d4 += sc[ti * NV + v] * sb[tj * NV + v]; }
      w = (d4.x + d4.y + d4.z + d4.w) * exp(scs[row] - scs[col]);
    }
    sw[lid] = w;
    workgroupBarrier();
    for (var k = 0u; k < OPT; k++) {
      let o = lid + k * WG;
      if (o < T * PD) {
        let r = o / PD;
        let p = o % PD;
        var a = acc[k];
        for (var j = 0u; j < T; j++) { a += sw[r * T + j] * sx[j * PD + p]; }
        acc[k] = a;
      }
    }
    workgroupBarrier();
  }

  for (var k = 0u; k < OPT; k++) {
    let o = lid + k * WG;
    let r = o / PD;
    let p = o % PD;
    if (o < T * PD && r0 + r < len) {
      let t = t0 + r0 + r;
      let x = XBC[params.xOff + t * params.xbcStride + h * PD + p];
      Y[params.yOff + t * params.yStride + h * PD + p] = acc[k] + Dh * x;
    }
  }
}
