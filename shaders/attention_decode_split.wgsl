// attention_decode_split (decode attention, pass 1 of 2; split-K / flash-decoding): one query token per head at
// position pos attends to cache rows 0..pos; the keys are cut into nsplit chunks of `chunk` rows and each
// workgroup handles one (chunk, head), writing an unnormalised partial result.
// Layout: q[h] at vec4 index qOffset4 + h*qHeadStride4 (e.g. [H, hd], or in place in the fused qkv); k_cache, v_cache [H, maxLen, hd]; part [H, nsplit, HD4 + 1] vec4s: acc[0..HD4) =
//   sum_j exp(s_j - m) v_j over the chunk, then vec4(m, l, 0, 0) with l = sum_j exp(s_j - m).
// Tiling: 128 threads; scores one key per thread (q in workgroup memory, full-row dot over vec4s) into
//   sc[chunk]; tree max / sum; P V with thread t on vec4 column t % HD4 and key group t / HD4 (coalesced V rows),
//   groups summed in workgroup memory. HD4 = hd/4 is a const the wrapper sets (HD4 <= 128); chunk <= CHUNK_MAX.
//   Grid: (nsplit, H).

const WG: u32 = 128u;
const CHUNK_MAX: u32 = 512u;

struct Params {
  pos: u32,
  maxLen: u32,
  chunk: u32,
  nsplit: u32,
  scale: f32,
  qOffset4: u32,
  qHeadStride4: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k_cache: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v_cache: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> part: array<vec4<f32>>;

var<workgroup> qs: array<vec4<f32>, HD4>;
var<workgroup> sc: array<f32, CHUNK_MAX>;
var<workgroup> red: array<f32, WG>;
var<workgroup> accs: array<vec4<f32>, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let s = wg.x;
  let h = wg.y;
  let n = params.pos + 1u;
  let j0 = s * params.chunk;
  let cnt = min(j0 + params.chunk, n) - j0;
  let kvbase = h * params.maxLen * HD4;

  for (var e = t; e < HD4; e += WG) { qs[e] = q[params.qOffset4 + h * params.qHeadStride4 + e] * params.scale; }
  workgroupBarrier();

  var mloc = -3.0e38;
  for (var c = t; c < cnt; c += WG) {
    let base = kvbase + (j0 + c) * HD4;
    var acc = 0.0;
    for (var d = 0u; d < HD4; d++) { acc += dot(qs[d], k_cache[base + d]); }
    sc[c] = acc;
    mloc = max(mloc, acc);
  }
  red[t] = mloc;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w >>= 1u) {
    if (t < w) { red[t] = max(red[t], red[t + w]); }
    workgroupBarrier();
  }
  let m = red[0];
  workgroupBarrier();

  var lsum = 0.0;
  for (var c = t; c < cnt; c += WG) {
    let p = exp(sc[c] - m);
    sc[c] = p;
    lsum += p;
  }
  red[t] = lsum;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w >>= 1u) {
    if (t < w) { red[t] += red[t + w]; }
    workgroupBarrier();
  }
  let l = red[0];

  let ngrp = WG / HD4;
  let d4 = t % HD4;
  let grp = t / HD4;
  var a = vec4<f32>(0.0);
  if (grp < ngrp) {
    for (var c = grp; c < cnt; c += ngrp) { a += sc[c] * v_cache[kvbase + (j0 + c) * HD4 + d4]; }
  }
  accs[t] = a;
  workgroupBarrier();

  let pbase = (h * params.nsplit + s) * (HD4 + 1u);
  for (var e = t; e < HD4; e += WG) {
    var sum = vec4<f32>(0.0);
    for (var gi = 0u; gi < ngrp; gi++) { sum += accs[gi * HD4 + e]; }
    part[pbase + e] = sum;
  }
  if (t == 0u) { part[pbase + HD4] = vec4<f32>(m, l, 0.0, 0.0); }
}
