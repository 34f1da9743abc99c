// decode_matvec (decode, one token; decode_matvec_lib.wgsl is prepended): y = W · prologue(x), for one row block of
// W [N, K] (f32 or packed f16, any K), with
//   prologue (NORM): none, RMSNorm (1) or LayerNorm (2) of x over its K values, weights g (and b) from `pack`;
//     every workgroup recomputes the statistics of the K inputs it reads anyway (no separate norm dispatch);
//   epilogue per row (flags epi): 1 + bias[n] (from pack), 2 GELU (exact erf), 8 + res[resOff + n], 4 += y[n]
//     (in-place residual add), applied in that order, then y[yOff + n] = v;
//   a second segment (N2 > 0): workgroups g ≥ G1 compute rows of w2 (own norm weights, bias, epilogue, output
//     offset) from the same x: GPT-NeoX's QKV with LN₁ and dense_h_to_4h with LN₂ in one dispatch;
//   ARGMAX: each workgroup also writes (max, argmax, non-finite) of its segment-1 rows as 3 floats at
//     y[partOff + 3·g] (the LM head; argmax_final.wgsl finishes the reduction). NaN/±Inf count as −FLT_MAX
//     and set the flag; ties keep the lowest row.
// Layout: x at xin[xOff + k]; this block's rows are rows rowStart.. of the whole matrix (bias and output are
// indexed by them). Tiling: decode_matvec_lib.wgsl; grid (x, y) of row groups, group = wid.x + wid.y · nwg.x.

override NORM: u32 = 0u;
override EPS: f32 = 1e-5;
override N1: u32 = 1u;
override N2: u32 = 0u;
override G1: u32 = 1u;
override ARGMAX: bool = false;

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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let g = wid.x + wid.y * nwg.x;
  let G2 = (N2 + ROWS - 1u) / ROWS;
  if (g >= G1 + G2) { return; } // whole workgroup
  let seg = select(0u, 1u, g >= G1);
  let grp = select(g, g - G1, seg == 1u);
  let N = select(N1, N2, seg == 1u);
  gOff = select(params.g1Off, params.g2Off, seg == 1u);
  bOff = select(params.nb1Off, params.nb2Off, seg == 1u);
  let slot = t / LANES;
  let lane = t % LANES;
  let rl = grp * ROWS + slot;
  let row = min(rl, N - 1u);

  // Issue the loads that do not depend on x first, so their latency overlaps the prologue's (x, norm statistics,
  // barriers): this lane's first weight chunks, and the row's epilogue operands (bias, residual, old y).
  prefetch(seg, row, lane);
  let n = params.rowStart + rl;
  let epi = select(params.epi1, params.epi2, seg == 1u);
  let o = select(params.y1Off, params.y2Off, seg == 1u) + n;
  var eBias = 0.0;
  var eRes = 0.0;
  var eOld = 0.0;
  if (lane == 0u && rl < N) {
    if ((epi & 1u) != 0u) { eBias = pack[select(params.bias1Off, params.bias2Off, seg == 1u) + n]; }
    if ((epi & 8u) != 0u) { eRes = res[params.resOff + n]; }
    if ((epi & 4u) != 0u) { eOld = y[o]; }
  }

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

  let acc = laneSum(t, laneDotPf(seg, row, lane));
  var v = LOWEST;
  if (lane == 0u && rl < N) {
    v = acc;
    if ((epi & 1u) != 0u) { v += eBias; }
    if ((epi & 2u) != 0u) { v = gelu(v); }
    if ((epi & 8u) != 0u) { v += eRes; }
    if ((epi & 4u) != 0u) { v += eOld; }
    y[o] = v;
  }
  if (ARGMAX) {
    if (lane == 0u) { rv[slot] = v; }
    workgroupBarrier();
    if (t == 0u) {
      var best = LOWEST;
      var bi = 0xffffffffu;
      var bad = 0.0;
      for (var s = 0u; s < ROWS; s++) {
        let r = grp * ROWS + s;
        if (r >= N) { break; }
        var x = rv[s];
        if (nonFinite(x)) { bad = 1.0; x = LOWEST; }
        if (bi == 0xffffffffu || x > best) { best = x; bi = params.rowStart + r; }
      }
      let p = params.partOff + 3u * g;
      y[p] = best;
      y[p + 1u] = f32(bi);
      y[p + 2u] = bad;
    }
  }
}
