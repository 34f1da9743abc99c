// neox_decode_layer (GPT-NeoX decode, one token; includes decode_matvec_lib.wgsl and rotary_lib.wgsl): one
// pipeline and one bind group for a whole layer, dispatched four times (five with the sequential residual); the grid
// selects the stage: a 2-D grid (nsplit, H) is the attention split, otherwise num_workgroups.x is G_IN, G_UP, G_OUT or
// G_DOWN (made distinct by the wrapper with padding workgroups that exit at once). A layer thus costs one
// setBindGroup and four dispatchWorkgroups, no setPipeline. The stages are the fused kernels, same math:
//   in    (decode_matvec, two segments): qkv = QKV(LN₁(x)) (+ bias); parallel residual: m = GELU(W₁ LN₂(x) + b₁) too
//   up    (sequential residual only):    m = GELU(W₁ LN₂(x) + b₁), after the attention's residual add
//   split (attention_decode_rope_split): RoPE(q, k) at pos = state[0], K/V → cache row pos, split-K partials
//   out   (attention_decode_out):        x += Dense(merge(partials)) (+ bias)
//   down  (decode_matvec):               x += W₂ m (+ b₂)
// Layout: acts (f32): x [D] at X_OFF, qkv [H, 3, HD] at QKV_OFF, m [F] at M_OFF, partials [H, nsplit, HD + 2] at
// PART_OFF; weights f32 or packed f16 (W_F16, all four the same); pack: LayerNorm weights and biases at *_OFF;
// k/v caches [H, maxLen, HD]; state u32 [pos, nsplit, maxLen, 0].
// Tiling: matrix stages as decode_matvec_lib.wgsl (x staged in workgroup memory); the split as
// attention_decode_rope_split.wgsl with WG = 256 (tiles of 256 keys).

#include "decode_matvec_lib.wgsl"
#include "decode_matvec_red_shared.wgsl"
#include "rotary_lib.wgsl"

override D: u32 = 1u;
override F: u32 = 1u;
override H: u32 = 1u;
override HD: u32 = 1u;
override ROT: u32 = 0u;
override LOG2BASE: f32 = 13.287712379549449;
override EPS: f32 = 1e-5;
override PARALLEL: bool = true;
override HAS_QKV_BIAS: bool = true;
override HAS_DENSE_BIAS: bool = true;
override LN1G: u32 = 0u;
override LN1B: u32 = 0u;
override LN2G: u32 = 0u;
override LN2B: u32 = 0u;
override QKVB: u32 = 0u;
override DENSEB: u32 = 0u;
override UPB: u32 = 0u;
override DOWNB: u32 = 0u;
override X_OFF: u32 = 0u;
override QKV_OFF: u32 = 0u;
override M_OFF: u32 = 0u;
override PART_OFF: u32 = 0u;
override LANES_IN: u32 = 64u;
override LANES_OUT: u32 = 64u;
override LANES_DOWN: u32 = 64u;
override VEC_D: bool = true;
override VEC_F: bool = true;
override G_IN: u32 = 1u;
override G_UP: u32 = 2u;
override G_OUT: u32 = 3u;
override G_DOWN: u32 = 4u;

override HD4: u32 = (HD + 3u) / 4u;
override HVEC: bool = (HD % 4u) == 0u;
override NGRP: u32 = WG / HD4;
const LOWEST: f32 = -0x1.fffffep+127f;

@group(0) @binding(0) var<storage, read_write> acts: array<f32>;
@group(0) @binding(1) var<storage, read> w_qkv: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> w_dense: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_up: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> w_down: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> pack: array<f32>;
@group(0) @binding(6) var<storage, read_write> kc: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> vc: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> state: array<u32>;

var<workgroup> qs: array<vec4<f32>, HD4>;
var<workgroup> kn: array<vec4<f32>, HD4>;
var<workgroup> vn: array<vec4<f32>, HD4>;
var<workgroup> pt: array<f32, WG>;
var<workgroup> accs: array<vec4<f32>, WG>;
var<workgroup> wstate: vec2<u32>;
var<workgroup> mh: array<f32, H>;
var<workgroup> lh: array<f32, H>;

fn wchunk(seg: u32, i: u32) -> vec4<u32> {
  if (seg == 0u) { return w_qkv[i]; }
  if (seg == 1u) { return w_up[i]; }
  if (seg == 2u) { return w_dense[i]; }
  return w_down[i];
}
fn xraw(k: u32) -> f32 { return xsGet(k); }
fn xglobal(k: u32) -> f32 { return xsGet(k); } // the wrapper requires the staged path

// x staged and LayerNorm'ed with weights at (g, b) of pack.
fn stageLn(t: u32, g: u32, b: u32) {
  for (var k = t; k < D; k += WG) { xsSet(k, acts[X_OFF + k]); }
  workgroupBarrier();
  let st = normStatsK(t, 2u, EPS, D);
  for (var k = t; k < D; k += WG) { xsSet(k, (xsGet(k) - st.x) * st.y * pack[g + k] + pack[b + k]); }
  workgroupBarrier();
}

// Stage "in" (and "up" with upOnly): LN + QKV and/or LN₂ + W₁ + GELU.
fn stageIn(g: u32, t: u32, upOnly: bool) {
  let rows = WG / LANES_IN;
  let G1 = select((3u * D + rows - 1u) / rows, 0u, upOnly);
  let G2 = select(0u, (F + rows - 1u) / rows, upOnly || PARALLEL);
  if (g >= G1 + G2) { return; } // padding workgroup
  let isUp = g >= G1;
  if (isUp) { stageLn(t, LN2G, LN2B); } else { stageLn(t, LN1G, LN1B); }
  let N = select(3u * D, F, isUp);
  let grp = select(g, g - G1, isUp);
  let slot = t / LANES_IN;
  let lane = t % LANES_IN;
  let row = grp * rows + slot;
  let acc = laneSumL(t, laneDotK(select(0u, 1u, isUp), min(row, N - 1u), lane, D, LANES_IN, VEC_D), LANES_IN);
  if (lane == 0u && row < N) {
    if (isUp) {
      acts[M_OFF + row] = gelu(acc + pack[UPB + row]);
    } else {
      var v = acc;
      if (HAS_QKV_BIAS) { v += pack[QKVB + row]; }
      acts[QKV_OFF + row] = v;
    }
  }
}

// Element i of head h's part p (0 q, 1 k, 2 v) after rotary at position pos.
fn roped(h: u32, p: u32, i: u32, pos: u32) -> f32 {
  let base = QKV_OFF + h * 3u * HD + p * HD;
  let x = acts[base + i];
  if (p == 2u || i >= ROT) { return x; }
  let half = ROT / 2u;
  let j = i % half;
  let sc = sincos(ropeAngle(pos, j, ROT, LOG2BASE));
  if (i < half) { return x * sc.y - acts[base + i + half] * sc.x; }
  return x * sc.y + acts[base + i - half] * sc.x;
}

fn row4(isV: bool, h: u32, j: u32, c: u32, maxLen: u32) -> vec4<f32> {
  if (HVEC) {
    let i = (h * maxLen + j) * HD4 + c;
    if (isV) { return vc[i]; }
    return kc[i];
  }
  var o = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) {
    let d = 4u * c + q;
    if (d < HD) {
      let e = (h * maxLen + j) * HD + d;
      if (isV) { o[q] = vc[e >> 2u][e & 3u]; } else { o[q] = kc[e >> 2u][e & 3u]; }
    }
  }
  return o;
}

fn setCache(isV: bool, h: u32, j: u32, d: u32, maxLen: u32, v: f32) {
  let e = (h * maxLen + j) * HD + d;
  if (isV) { vc[e >> 2u][e & 3u] = v; } else { kc[e >> 2u][e & 3u] = v; }
}

// Stage "split": rotary + KV append + split-K partial softmax · V for key chunk s of head h.
fn stageSplit(s: u32, h: u32, nsplit: u32, t: u32) {
  if (t == 0u) { wstate = vec2<u32>(state[0], state[2]); }
  let st = workgroupUniformLoad(&wstate);
  let pos = st.x;
  let maxLen = st.y;
  let n = pos + 1u;
  let chunk = (n + nsplit - 1u) / nsplit;
  let j0 = min(s * chunk, n);
  let j1 = min(j0 + chunk, n);
  let mine = j0 <= pos && pos < j1;
  if (s == 0u && h == 0u && t == 0u) { state[1] = nsplit; }
  let scale = inverseSqrt(f32(HD));
  for (var d = t; d < 4u * HD4; d += WG) {
    var qv = 0.0;
    if (d < HD) { qv = roped(h, 0u, d, pos) * scale; }
    qs[d >> 2u][d & 3u] = qv;
    if (mine) {
      var kv = 0.0;
      var vv = 0.0;
      if (d < HD) {
        kv = roped(h, 1u, d, pos);
        vv = roped(h, 2u, d, pos);
        setCache(false, h, pos, d, maxLen, kv);
        setCache(true, h, pos, d, maxLen, vv);
      }
      kn[d >> 2u][d & 3u] = kv;
      vn[d >> 2u][d & 3u] = vv;
    }
  }
  workgroupBarrier();
  var m = LOWEST;
  var lsum = 0.0;
  var acc = vec4<f32>(0.0);
  let col = t % HD4;
  let grp = t / HD4;
  for (var jt = j0; jt < j1; jt += WG) {
    let j = jt + t;
    var sc = LOWEST;
    if (j < j1) {
      var a = 0.0;
      if (j == pos) {
        for (var c = 0u; c < HD4; c++) { a += dot(qs[c], kn[c]); }
      } else {
        for (var c = 0u; c < HD4; c++) { a += dot(qs[c], row4(false, h, j, c, maxLen)); }
      }
      sc = a;
    }
    let mNew = max(m, wgMax(t, sc));
    let alpha = exp(m - mNew);
    var p = 0.0;
    if (j < j1) { p = exp(sc - mNew); }
    pt[t] = p;
    lsum = lsum * alpha + p;
    acc *= alpha;
    m = mNew;
    workgroupBarrier();
    if (grp < NGRP) {
      let cnt = min(WG, j1 - jt);
      for (var i = grp; i < cnt; i += NGRP) {
        let jj = jt + i;
        var v: vec4<f32>;
        if (jj == pos) { v = vn[col]; } else { v = row4(true, h, jj, col, maxLen); }
        acc += pt[i] * v;
      }
    }
    workgroupBarrier();
  }
  accs[t] = acc;
  let l = wgSum(t, lsum); // its barriers also publish accs
  let base = PART_OFF + (h * nsplit + s) * (HD + 2u);
  if (t < HD4) {
    var sum = vec4<f32>(0.0);
    for (var gi = 0u; gi < NGRP; gi++) { sum += accs[gi * HD4 + t]; }
    for (var q = 0u; q < 4u; q++) {
      if (4u * t + q < HD) { acts[base + 4u * t + q] = sum[q]; }
    }
  }
  if (t == 0u) {
    acts[base + HD] = m;
    acts[base + HD + 1u] = l;
  }
}

// Stage "out": merge the partials per head into xs, then x += Dense(att) (+ bias).
fn stageOut(g: u32, t: u32) {
  let rows = WG / LANES_OUT;
  if (g * rows >= D) { return; }
  let ns = state[1];
  let stride = HD + 2u;
  for (var h = t; h < H; h += WG) {
    var M = LOWEST;
    for (var s = 0u; s < ns; s++) { M = max(M, acts[PART_OFF + (h * ns + s) * stride + HD]); }
    var L = 0.0;
    for (var s = 0u; s < ns; s++) {
      let b = PART_OFF + (h * ns + s) * stride + HD;
      L += exp(acts[b] - M) * acts[b + 1u];
    }
    mh[h] = M;
    lh[h] = 1.0 / L;
  }
  workgroupBarrier();
  for (var k = t; k < D; k += WG) {
    let h = k / HD;
    let i = k - h * HD;
    var a = 0.0;
    for (var s = 0u; s < ns; s++) {
      let b = PART_OFF + (h * ns + s) * stride;
      a += exp(acts[b + HD] - mh[h]) * acts[b + i];
    }
    xsSet(k, a * lh[h]);
  }
  workgroupBarrier();
  let slot = t / LANES_OUT;
  let lane = t % LANES_OUT;
  let row = g * rows + slot;
  let acc = laneSumL(t, laneDotK(2u, min(row, D - 1u), lane, D, LANES_OUT, VEC_D), LANES_OUT);
  if (lane == 0u && row < D) {
    var v = acc;
    if (HAS_DENSE_BIAS) { v += pack[DENSEB + row]; }
    acts[X_OFF + row] += v;
  }
}

// Stage "down": x += W₂ m + b₂.
fn stageDown(g: u32, t: u32) {
  let rows = WG / LANES_DOWN;
  if (g * rows >= D) { return; }
  for (var k = t; k < F; k += WG) { xsSet(k, acts[M_OFF + k]); }
  workgroupBarrier();
  let slot = t / LANES_DOWN;
  let lane = t % LANES_DOWN;
  let row = g * rows + slot;
  let acc = laneSumL(t, laneDotK(3u, min(row, D - 1u), lane, F, LANES_DOWN, VEC_F), LANES_DOWN);
  if (lane == 0u && row < D) { acts[X_OFF + row] += acc + pack[DOWNB + row]; }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  if (nwg.y > 1u) {
    stageSplit(wid.x, wid.y, nwg.x, t);
    return;
  }
  let G = nwg.x;
  if (G == G_IN) {
    stageIn(wid.x, t, false);
  } else if (G == G_UP) {
    stageIn(wid.x, t, true);
  } else if (G == G_OUT) {
    stageOut(wid.x, t);
  } else if (G == G_DOWN) {
    stageDown(wid.x, t);
  }
}
