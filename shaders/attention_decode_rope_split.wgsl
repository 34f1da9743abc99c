// attention_decode_rope_split (GPT-NeoX decode, one token; includes rotary_lib.wgsl): rotary + KV-cache append +
// split-K attention ("flash-decoding") in one pass. The token at position pos = state[0] attends to cache rows 0..pos;
// the n = pos + 1 keys are cut into nsplit = num_workgroups.x chunks of ceil(n / nsplit) and workgroup (s, h)
// handles chunk s of head h:
//   q_h = RoPE(q_h, pos) / √HD (every workgroup of the head rotates its own copy);
//   the workgroup whose chunk holds pos also rotates k_h, writes k_cache[h, pos] = RoPE(k_h), v_cache[h, pos] = v_h
//   and uses those values for key pos (no other workgroup touches row pos, so there is no race);
//   online softmax over its keys in tiles of WG: running max m, l = Σ exp(s_j − m), acc = Σ exp(s_j − m) v_j.
// attention_decode_out.wgsl merges the nsplit partials per head (log-sum-exp) in its prologue.
// Layout: qkv [H, 3, HD] (the fused query_key_value row: q | k | v per head); k_cache, v_cache [H, maxLen, HD] with
// maxLen = state[2] (read as vec4s; HD not a multiple of 4 reads components); part [H, nsplit, HD + 2] f32:
// acc[0..HD), m, l. state: [pos, nsplit (written here for the out pass), maxLen]. Rotary on the first ROT dims
// (rotate_half pairs (u, u + ROT/2)), the rest pass through.
// Tiling: WG = 128 threads; scores: one key per thread (q in workgroup memory, vec4 dot over the row); P·V: thread t on
// vec4 column t % HD4 and key group t / HD4 (coalesced V rows), groups summed at the end. Grid (nsplit, H).

#include "rotary_lib.wgsl"

override H: u32 = 1u;
override HD: u32 = 64u;
override ROT: u32 = 16u;
override LOG2BASE: f32 = 13.287712379549449;

const WG: u32 = 128u;
const LOWEST: f32 = -0x1.fffffep+127f;
override HD4: u32 = (HD + 3u) / 4u;
override VEC: bool = (HD % 4u) == 0u;
override NGRP: u32 = WG / HD4;

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> kc: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> vc: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<u32>;

var<workgroup> qs: array<vec4<f32>, HD4>;
var<workgroup> kn: array<vec4<f32>, HD4>;
var<workgroup> vn: array<vec4<f32>, HD4>;
var<workgroup> pt: array<f32, WG>;
var<workgroup> red: array<f32, WG>;
var<workgroup> accs: array<vec4<f32>, WG>;
var<workgroup> wstate: vec2<u32>;

// Element i of head h's part p (0 q, 1 k, 2 v) after rotary at position pos.
fn roped(h: u32, p: u32, i: u32, pos: u32) -> f32 {
  let base = h * 3u * HD + p * HD;
  let x = qkv[base + i];
  if (p == 2u || i >= ROT) { return x; }
  let half = ROT / 2u;
  let j = i % half;
  let sc = sincos(ropeAngle(pos, j, ROT, LOG2BASE));
  if (i < half) { return x * sc.y - qkv[base + i + half] * sc.x; }
  return x * sc.y + qkv[base + i - half] * sc.x;
}

// Elements 4c..4c+4 of cache row (h, j) (zeros past HD).
fn row4(isV: bool, h: u32, j: u32, c: u32, maxLen: u32) -> vec4<f32> {
  if (VEC) {
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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let s = wid.x;
  let h = wid.y;
  let nsplit = nwg.x;
  if (t == 0u) { wstate = vec2<u32>(state[0], state[2]); }
  let st = workgroupUniformLoad(&wstate); // the position is uniform: the key loop below holds barriers
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
    red[t] = sc;
    workgroupBarrier();
    for (var w = WG / 2u; w > 0u; w >>= 1u) {
      if (t < w) { red[t] = max(red[t], red[t + w]); }
      workgroupBarrier();
    }
    let mNew = max(m, red[0]);
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

  red[t] = lsum;
  accs[t] = acc;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w >>= 1u) {
    if (t < w) { red[t] += red[t + w]; }
    workgroupBarrier();
  }
  let base = (h * nsplit + s) * (HD + 2u);
  if (t < HD4) {
    var sum = vec4<f32>(0.0);
    for (var gi = 0u; gi < NGRP; gi++) { sum += accs[gi * HD4 + t]; }
    for (var q = 0u; q < 4u; q++) {
      if (4u * t + q < HD) { part[base + 4u * t + q] = sum[q]; }
    }
  }
  if (t == 0u) {
    part[base + HD] = m;
    part[base + HD + 1u] = red[0];
  }
}
