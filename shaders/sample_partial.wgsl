// sample_partial (token selection, pass 1 of 2; includes sample_lib.wgsl): many workgroups per logits row, one per
// slice of S logits (workgroup (g, row) takes indices [g·S, min((g + 1)·S, V)) of row `row`), each reducing its
// slice to what sample_final.wgsl needs, so no pass walks 50k logits in one workgroup:
//   entry argmax: (max, argmax, non-finite flag) of the slice, 3 floats at part[(row·G + g)·3]
//             (the decode LM head writes the same partials itself: decode_matvec.wgsl ARGMAX);
//   entry topk:   the slice's top k' = min(k, slice length) by (value desc, index asc) as (value, index) pairs in
//             source order, after a flag: part[(row·G + g)·(1 + 2·KC)] = flag, then KC pairs, unused ones
//             (LOWEST, 2^24) (sample_final treats indices ≥ V as padding);
//   entry full:   (max m, Σ exp((v − m)/T), flag) of the slice, 3 floats.
// Logits row `row` at logits[off + row·stride ..]; NaN/±Inf are cleaned as sample_lib.wgsl says and set the flag.
// Tiling: 256 threads; argmax/full stride over the slice, then tree reductions in workgroup memory; topk: the
// library's radix select and gather over the slice.

#include "sample_lib.wgsl"

struct Params {
  V: u32,
  off: u32,
  stride: u32,
  k: u32,
  invTemp: f32,
  S: u32,
  G: u32,
  KC: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;

var<private> srcBase: u32;
var<private> srcLo: u32;
var<private> srcN: u32;

fn srcCount() -> u32 { return srcN; }
fn srcVal(i: u32) -> f32 { return clean(logits[srcBase + i]); }
fn srcKey(i: u32) -> u32 { return keyOf(srcVal(i)); }
fn srcIdx(i: u32) -> u32 { return srcLo + i; }

fn setSource(g: u32, row: u32) {
  srcLo = min(g * params.S, params.V);
  srcN = min(srcLo + params.S, params.V) - srcLo;
  srcBase = params.off + row * params.stride + srcLo;
}

@compute @workgroup_size(256)
fn argmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  setSource(wid.x, wid.y);
  var best = LOWEST;
  var idx = 0xffffffffu;
  var flag = false;
  for (var i = t; i < srcN; i += WG) {
    let raw = logits[srcBase + i];
    flag = flag || nonFinite(raw);
    let v = clean(raw);
    if (idx == 0xffffffffu || v > best) { best = v; idx = srcLo + i; }
  }
  argmaxReduce(t, best, idx, flag);
  if (t == 0u) {
    let p = (wid.y * params.G + wid.x) * 3u;
    part[p] = rv[0];
    part[p + 1u] = f32(ri[0]);
    part[p + 2u] = f32(atomicLoad(&bad));
  }
}

@compute @workgroup_size(256)
fn topk(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  setSource(wid.x, wid.y);
  var flag = false;
  for (var i = t; i < srcN; i += WG) { flag = flag || nonFinite(logits[srcBase + i]); }
  if (flag) { atomicOr(&bad, 1u); }
  let k = min(params.k, srcN);
  topK(t, k, false);
  let p = (wid.y * params.G + wid.x) * (1u + 2u * params.KC);
  for (var j = t; j < params.KC; j += WG) {
    var v = LOWEST;
    var ix = 16777216.0;
    if (j < k) { v = cv[j]; ix = f32(ci[j]); }
    part[p + 1u + 2u * j] = v;
    part[p + 2u + 2u * j] = ix;
  }
  if (t == 0u) { part[p] = f32(atomicLoad(&bad)); }
}

@compute @workgroup_size(256)
fn full(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  setSource(wid.x, wid.y);
  var m = LOWEST;
  var flag = false;
  for (var i = t; i < srcN; i += WG) {
    let raw = logits[srcBase + i];
    flag = flag || nonFinite(raw);
    m = max(m, clean(raw));
  }
  let vmax = maxReduce(t, m, flag);
  workgroupBarrier();
  var sum = 0.0;
  for (var i = t; i < srcN; i += WG) { sum += exp((srcVal(i) - vmax) * params.invTemp); }
  rv[t] = sum;
  workgroupBarrier();
  for (var s = WG >> 1u; s > 0u; s >>= 1u) {
    if (t < s) { rv[t] += rv[t + s]; }
    workgroupBarrier();
  }
  if (t == 0u) {
    let p = (wid.y * params.G + wid.x) * 3u;
    part[p] = vmax;
    part[p + 1u] = rv[0];
    part[p + 2u] = f32(atomicLoad(&bad));
  }
}
