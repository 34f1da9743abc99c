// decode_matvec (decode, one token; includes decode_matvec_lib.wgsl): y = W · prologue(x), for one row block of
// W [N, K] (f32 or packed f16, any K), with
//   prologue (NORM): none, RMSNorm (1) or LayerNorm (2) of x over its K values, weights g (and b) from `pack`;
//     every workgroup recomputes the statistics of the K inputs it reads anyway (no separate norm dispatch);
//   epilogue per row (flags epi): 1 + bias[n] (from pack), 2 GELU (exact erf), 8 + res[resOff + n], 4 += y[n]
//     (in-place residual add), applied in that order, then y[yOff + n] = v;
//   a second segment (N2 > 0): workgroups g ≥ G1 compute rows of w2 (own norm weights, bias, epilogue, output
//     offset) from the same x: GPT-NeoX's QKV with LN₁ and dense_h_to_4h with LN₂ in one dispatch;
//   ARGMAX: each workgroup also writes (max, argmax, non-finite) of its segment-1 rows as 3 floats at
//     y[partOff + 3·g] (the LM head; sample_final.wgsl finishes the reduction). NaN/±Inf count as −FLT_MAX
//     and set the flag; ties keep the lowest row.
// Layout: x at xin[xOff + k]; this block's rows are rows rowStart.. of the whole matrix (bias and output are
// indexed by them). Tiling: decode_matvec_lib.wgsl; grid (x, y) of workgroups, g = wid.x + wid.y · nwg.x; each
// workgroup computes REP consecutive row groups of ROWS rows (one prologue for all of them, fewer argmax partials;
// the next group's first weight chunks are loaded while the current group's lane sums run).

#include "decode_matvec_lib.wgsl"
#include "decode_matvec_red_{RED}.wgsl"

override NORM: u32 = 0u;
override EPS: f32 = 1e-5;
override N1: u32 = 1u;
override N2: u32 = 0u;
override G1: u32 = 1u;
override ARGMAX: bool = false;
override REP: u32 = 1u;

struct Params {
  xOff: u32, rowStart: u32, resOff: u32, partOff: u32,
  y1Off: u32, epi1: u32, bias1Off: u32, g1Off: u32,
  nb1Off: u32, y2Off: u32, epi2: u32, bias2Off: u32,
  g2Off: u32, nb2Off: u32, _p0: u32, _p1: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> xin: array<f32>;
@group(0) @binding(2) var<storage, read> w1: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w2: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> pack: array<f32>;
@group(0) @binding(5) var<storage, read> res: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

const LOWEST: f32 = -0x1.fffffep+127f;

var<workgroup> rv: array<f32, ROWS>;
var<workgroup> ri: array<u32, ROWS>;
var<workgroup> rb: array<f32, ROWS>;
var<private> nShift: f32 = 0.0;
var<private> nScale: f32 = 1.0;
var<private> gOff: u32 = 0u;
var<private> bOff: u32 = 0u;

fn wchunk(seg: u32, i: u32) -> vec4<u32> {
  if (seg == 0u) { return w1[i]; }
  return w2[i];
}

fn xraw(k: u32) -> f32 {
  if (STAGED) { return xsGet(k); }
  return xin[params.xOff + k];
}

fn normed(k: u32, v: f32) -> f32 {
  if (NORM == 0u) { return v; }
  var o = (v - nShift) * nScale * pack[gOff + k];
  if (NORM == 2u) { o += pack[bOff + k]; }
  return o;
}

fn xglobal(k: u32) -> f32 {
  return normed(k, xin[params.xOff + k]);
}

// Epilogue operands of row rl (< N) of segment seg: (bias, residual, old y), zero where the flags leave them out.
fn epiLoad(seg: u32, rl: u32) -> vec3<f32> {
  let n = params.rowStart + rl;
  let epi = select(params.epi1, params.epi2, seg == 1u);
  var e = vec3<f32>(0.0);
  if ((epi & 1u) != 0u) { e.x = pack[select(params.bias1Off, params.bias2Off, seg == 1u) + n]; }
  if ((epi & 8u) != 0u) { e.y = res[params.resOff + n]; }
  if ((epi & 4u) != 0u) { e.z = y[select(params.y1Off, params.y2Off, seg == 1u) + n]; }
  return e;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let g = wid.x + wid.y * nwg.x;
  let G2 = ((N2 + ROWS - 1u) / ROWS + REP - 1u) / REP;
  if (g >= G1 + G2) { return; } // whole workgroup
  let seg = select(0u, 1u, g >= G1);
  let grp = select(g, g - G1, seg == 1u);
  let N = select(N1, N2, seg == 1u);
  gOff = select(params.g1Off, params.g2Off, seg == 1u);
  bOff = select(params.nb1Off, params.nb2Off, seg == 1u);
  let slot = t / LANES;
  let lane = t % LANES;
  let epi = select(params.epi1, params.epi2, seg == 1u);
  let yOff = select(params.y1Off, params.y2Off, seg == 1u);

  // Issue the loads that do not depend on x first, so their latency overlaps the prologue's (x, norm statistics,
  // barriers): this lane's first weight chunks of the first row group, and the row's epilogue operands.
  var rl = grp * REP * ROWS + slot;
  prefetch(seg, min(rl, N - 1u), lane);
  var e = vec3<f32>(0.0);
  if (lane == 0u && rl < N) { e = epiLoad(seg, rl); }

  // the norm weight (and bias) of this thread's first four staged inputs, loaded with x rather than after the
  // statistics (the normalisation below then waits on no global load for K ≤ 4·WG)
  var ng = vec4<f32>(1.0);
  var nb = vec4<f32>(0.0);
  if (STAGED && NORM != 0u) {
    for (var i = 0u; i < 4u; i++) {
      let k = t + i * WG;
      if (k < K) {
        ng[i] = pack[gOff + k];
        if (NORM == 2u) { nb[i] = pack[bOff + k]; }
      }
    }
  }
  if (STAGED) {
    for (var k = t; k < K; k += WG) { xsSet(k, xin[params.xOff + k]); }
    workgroupBarrier();
  }
  if (NORM != 0u) {
    let st = normStats(t, NORM, EPS);
    nShift = st.x;
    nScale = st.y;
    if (STAGED) {
      for (var i = 0u; i < 4u; i++) {
        let k = t + i * WG;
        if (k < K) {
          var o = (xsGet(k) - nShift) * nScale * ng[i];
          if (NORM == 2u) { o += nb[i]; }
          xsSet(k, o);
        }
      }
      for (var k = t + 4u * WG; k < K; k += WG) { xsSet(k, normed(k, xsGet(k))); }
      workgroupBarrier();
    }
  }

  // argmax of this slot's rows (ascending, so a strict > keeps the lowest row on ties)
  var best = LOWEST;
  var bi = 0xffffffffu;
  var bad = 0.0;
  for (var r = 0u; r < REP; r++) {
    let part = laneDotPf(seg, min(rl, N - 1u), lane);
    let next = rl + ROWS;
    if (r + 1u < REP) { prefetch(seg, min(next, N - 1u), lane); }
    let acc = laneSum(t, part);
    if (lane == 0u && rl < N) {
      var v = acc;
      if ((epi & 1u) != 0u) { v += e.x; }
      if ((epi & 2u) != 0u) { v = gelu(v); }
      if ((epi & 8u) != 0u) { v += e.y; }
      if ((epi & 4u) != 0u) { v += e.z; }
      y[yOff + params.rowStart + rl] = v;
      if (ARGMAX) {
        var x = v;
        if (nonFinite(x)) { bad = 1.0; x = LOWEST; }
        if (bi == 0xffffffffu || x > best) { best = x; bi = params.rowStart + rl; }
      }
    }
    if (r + 1u < REP) {
      if (lane == 0u && next < N) { e = epiLoad(seg, next); }
      workgroupBarrier(); // lane 0 has read this group's lane sums before the next group writes them
    }
    rl = next;
  }
  if (ARGMAX) {
    if (lane == 0u) { rv[slot] = best; ri[slot] = bi; rb[slot] = bad; }
    workgroupBarrier();
    if (t == 0u) {
      var mb = LOWEST;
      var mi = 0xffffffffu;
      var mbad = 0.0;
      for (var s = 0u; s < ROWS; s++) {
        let i = ri[s];
        if (i == 0xffffffffu) { continue; }
        mbad = max(mbad, rb[s]);
        let x = rv[s];
        if (mi == 0xffffffffu || x > mb || (x == mb && i < mi)) { mb = x; mi = i; }
      }
      let p = params.partOff + 3u * g;
      y[p] = mb;
      y[p + 1u] = f32(mi);
      y[p + 2u] = mbad;
    }
  }
}
