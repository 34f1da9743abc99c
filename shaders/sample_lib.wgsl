// sample_lib: what the token-selection passes share (sample_partial.wgsl, sample_final.wgsl). Not a kernel: both
// `#include` it. Everything runs in one workgroup of WG = 256 threads over a
// "source" of srcCount() values defined by the including shader through hooks: srcVal(i) (the cleaned logit),
// srcKey(i) (its order-preserving u32 key; 0 for padding entries) and srcIdx(i) (its vocabulary index).
//   radixSelect: the k-th largest key in 4 passes of 8 bits, each a 256-bin histogram in workgroup atomics
//     (8 privatised copies: logits share their top bits, one copy would serialise most atomics on a few bins) over
//     the keys matching the prefix found so far; the digit found by a parallel prefix sum over the bins;
//   gather: every key above the threshold plus the first kRem keys equal to it, each thread scanning a contiguous
//     chunk of the source at offsets from prefix sums of per-thread counts: candidates keep source order;
//   bitonicSort: the 256 candidate slots by (value desc, index asc);
//   topK: the top k in cv/ci[0, k): a source of ≤ 256 values is loaded and sorted whole (no radix passes), a larger
//     one goes through radixSelect + gather (then sorted when asked).
// NaN and −inf count as −FLT_MAX, +inf as +FLT_MAX (clean); nonFinite tells them apart by the exponent bits (compilers
// may assume v == v).

const WG: u32 = 256u;
const HCOPIES: u32 = 8u;
const LOWEST: f32 = -0x1.fffffep+127f;
const HIGHEST: f32 = 0x1.fffffep+127f;

var<workgroup> hist: array<atomic<u32>, 2048>;
var<workgroup> cv: array<f32, 256>;
var<workgroup> ci: array<u32, 256>;
var<workgroup> cntA: array<u32, 256>;
var<workgroup> sh: array<u32, 2>;
var<workgroup> wcount: u32;
// argmaxReduce's slots, and the non-finite flag every entry point raises.
var<workgroup> rv: array<f32, 256>;
var<workgroup> ri: array<u32, 256>;
var<workgroup> bad: atomic<u32>;

fn nonFinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

fn clean(v: f32) -> f32 {
  let b = bitcast<u32>(v);
  if ((b & 0x7f800000u) != 0x7f800000u) { return v; }
  if ((b & 0x807fffffu) != 0u) { return LOWEST; } // NaN or −inf
  return HIGHEST;
}

// Order-preserving map f32 → u32 (larger float, larger key); keys of cleaned values are ≥ keyOf(LOWEST) > 0.
fn keyOf(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  return select(b ^ 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// Inclusive prefix sum over the 256 threads (Hillis–Steele in cntA). Uniform control flow.
fn scanU32(t: u32, v: u32) -> u32 {
  cntA[t] = v;
  workgroupBarrier();
  for (var off = 1u; off < WG; off <<= 1u) {
    var a = 0u;
    if (t >= off) { a = cntA[t - off]; }
    workgroupBarrier();
    cntA[t] += a;
    workgroupBarrier();
  }
  let r = cntA[t];
  workgroupBarrier();
  return r;
}

// The k-th largest key of the source (1 ≤ k ≤ count) and how many keys equal to it belong to the top k.
fn radixSelect(t: u32, k: u32) -> vec2<u32> {
  let count = srcCount();
  var prefix = 0u;
  var mask = 0u;
  var kRem = k;
  for (var ps = 0u; ps < 4u; ps++) {
    let shift = 24u - 8u * ps;
    for (var c = 0u; c < HCOPIES; c++) { atomicStore(&hist[c * 256u + t], 0u); }
    workgroupBarrier();
    let hc = (t % HCOPIES) * 256u;
    var i = t;
    for (; i + 7u * WG < count; i += 8u * WG) {
      var ks: array<u32, 8>;
      for (var j = 0u; j < 8u; j++) { ks[j] = srcKey(i + j * WG); }
      for (var j = 0u; j < 8u; j++) {
        if ((ks[j] & mask) == prefix) { atomicAdd(&hist[hc + ((ks[j] >> shift) & 255u)], 1u); }
      }
    }
    for (; i < count; i += WG) {
      let key = srcKey(i);
      if ((key & mask) == prefix) { atomicAdd(&hist[hc + ((key >> shift) & 255u)], 1u); }
    }
    workgroupBarrier();
    // Thread t takes bin b = 255 − t; the inclusive prefix sum over t counts the keys in bins ≥ b.
    let b = 255u - t;
    var cnt = 0u;
    for (var c = 0u; c < HCOPIES; c++) { cnt += atomicLoad(&hist[c * 256u + b]); }
    let incl = scanU32(t, cnt);
    if (incl >= kRem && incl - cnt < kRem) {
      sh[0] = prefix | (b << shift);
      sh[1] = kRem - (incl - cnt);
    }
    prefix = workgroupUniformLoad(&sh[0]);
    kRem = workgroupUniformLoad(&sh[1]);
    mask |= 255u << shift;
  }
  return vec2<u32>(prefix, kRem);
}

// Fills cv/ci[0, k) with the top k (keys > tau, then the first kRem keys == tau), in source order per category;
// the other slots get (LOWEST, 0xffffffff). Uniform control flow.
fn gather(t: u32, tau: u32, kRem: u32, k: u32) {
  let count = srcCount();
  let gtTotal = k - kRem;
  let C = (count + WG - 1u) / WG;
  let lo = min(t * C, count);
  let hi = min(lo + C, count);
  var ng = 0u;
  var ne = 0u;
  for (var i = lo; i < hi; i++) {
    let key = srcKey(i);
    ng += select(0u, 1u, key > tau);
    ne += select(0u, 1u, key == tau);
  }
  cv[t] = LOWEST;
  ci[t] = 0xffffffffu;
  var pg = scanU32(t, ng) - ng;
  var pe = scanU32(t, ne) - ne;
  for (var i = lo; i < hi; i++) {
    let key = srcKey(i);
    if (key > tau) {
      cv[pg] = srcVal(i);
      ci[pg] = srcIdx(i);
      pg++;
    } else if (key == tau && pe < kRem) {
      cv[gtTotal + pe] = srcVal(i);
      ci[gtTotal + pe] = srcIdx(i);
      pe++;
    }
  }
  workgroupBarrier();
}

fn before(v1: f32, i1: u32, v2: f32, i2: u32) -> bool {
  return v1 > v2 || (v1 == v2 && i1 < i2);
}

// Sorts the 256 slots of cv/ci by (value desc, index asc). Uniform control flow.
fn bitonicSort(t: u32) {
  for (var size = 2u; size <= WG; size <<= 1u) {
    for (var st = size >> 1u; st > 0u; st >>= 1u) {
      let p = t ^ st;
      if (p > t) {
        let v1 = cv[t];
        let i1 = ci[t];
        let v2 = cv[p];
        let i2 = ci[p];
        let wantFirst = (t & size) == 0u;
        if (wantFirst != before(v1, i1, v2, i2) && (v1 != v2 || i1 != i2)) {
          cv[t] = v2;
          ci[t] = i2;
          cv[p] = v1;
          ci[p] = i1;
        }
      }
      workgroupBarrier();
    }
  }
}

// The top k of the source (1 ≤ k ≤ count) in cv/ci[0, k), sorted by (value desc, index asc) when the source holds
// ≤ WG values or `sorted` is set (else in source order per category, as gather leaves them). Uniform control flow.
fn topK(t: u32, k: u32, sorted: bool) {
  if (t == 0u) { wcount = srcCount(); }
  let count = workgroupUniformLoad(&wcount);
  if (count <= WG) {
    if (t < count) {
      cv[t] = srcVal(t);
      ci[t] = srcIdx(t);
    } else {
      cv[t] = LOWEST;
      ci[t] = 0xffffffffu;
    }
    workgroupBarrier();
    bitonicSort(t);
    return;
  }
  let sel = radixSelect(t, k);
  gather(t, sel.x, sel.y, k);
  if (sorted) { bitonicSort(t); }
}

// The workgroup's (max, lowest index on ties) over every thread's candidate (best, idx) (idx 0xffffffff: none) into
// rv[0], ri[0]; raises `bad` when any thread saw a non-finite logit. Uniform control flow.
fn argmaxReduce(t: u32, best: f32, idx: u32, flag: bool) {
  if (flag) { atomicOr(&bad, 1u); }
  rv[t] = best;
  ri[t] = idx;
  workgroupBarrier();
  for (var s = WG >> 1u; s > 0u; s >>= 1u) {
    if (t < s) {
      let v2 = rv[t + s];
      let i2 = ri[t + s];
      if (i2 != 0xffffffffu && (ri[t] == 0xffffffffu || v2 > rv[t] || (v2 == rv[t] && i2 < ri[t]))) {
        rv[t] = v2;
        ri[t] = i2;
      }
    }
    workgroupBarrier();
  }
}

// The workgroup's max over every thread's m (returned to all threads; rv is free again after a barrier); raises
// `bad` like argmaxReduce. Uniform control flow.
fn maxReduce(t: u32, m: f32, flag: bool) -> f32 {
  if (flag) { atomicOr(&bad, 1u); }
  rv[t] = m;
  workgroupBarrier();
  for (var s = WG >> 1u; s > 0u; s >>= 1u) {
    if (t < s) { rv[t] = max(rv[t], rv[t + s]); }
    workgroupBarrier();
  }
  return rv[0];
}
