// sample_final (token selection, pass 2 of 2; includes sample_lib.wgsl): one workgroup per row merges the G
// slice partials of sample_partial.wgsl (or of the decode LM head) and writes the chosen token id:
//   entry argmax: the (max, lowest index) over the partials;
//   entry topk:   the top k (≤ 256) of the G·KC candidates (radix select + gather in candidate order, which keeps
//             ties at the lowest indices since slices and candidates within a slice are in index order), sorted;
//             p_j = exp((v_j − v_0)/T), serial prefix sum; the top-p nucleus keeps j while Σ_{i<j} p_i < top_p·Σp
//             (HF TopPLogitsWarper, ≥ 1 token); the token is the first j of the nucleus with cum_j > u·cum_last;
//   entry full:   softmax over the whole row: M = max_g m_g, total = Σ_g s_g e^{(m_g − M)/T}; the slice holding
//             u·total is walked by its 256 threads (contiguous chunks, per-chunk sums, prefix) to the first index
//             whose running sum exceeds the target (the same inverse-CDF draw as src/reference/sampling.ts).
// Output: STATE_MODE (decode): out = token history, pos = state[0]; out[pos + 1] = token and state[0] = pos + 1, so the
// next step's embedding reads it and the position advances on the GPU. Otherwise out[outIndex + row] = token.
// CHECK (decode): if any logit of the row was NaN or ±Inf the token is 0xffffffff (the CPU turns it into an error).
// Randomness: u = params.u when ≥ 0, else u = pcg(seed ^ pcg(step + row)) / 2²⁴ (24 bits) with
// step = params.step (+ pos in STATE_MODE): src/reference/sampling.ts hashUniform mirrors it.

#include "sample_lib.wgsl"

struct Params {
  V: u32,
  off: u32,
  stride: u32,
  k: u32,
  topP: f32,
  invTemp: f32,
  seed: u32,
  step: u32,
  u: f32,
  G: u32,
  S: u32,
  KC: u32,
  outIndex: u32,
  partOff: u32,
  flags: u32,   // 1 STATE_MODE, 2 CHECK
  _p: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> part: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
@group(0) @binding(4) var<storage, read_write> state: array<u32>;

var<workgroup> pr: array<f32, 256>;
var<workgroup> counter: atomic<u32>;
var<workgroup> counter2: atomic<u32>;
var<workgroup> shf: array<f32, 2>;
var<workgroup> shu: u32;

// The candidates of row `row` as the library's source (topk): G·KC (value, index) pairs after each slice's flag.
var<private> candBase: u32;

fn srcCount() -> u32 { return params.G * params.KC; }
fn candAt(i: u32) -> u32 {
  let g = i / params.KC;
  return candBase + g * (1u + 2u * params.KC) + 1u + 2u * (i - g * params.KC);
}
fn srcVal(i: u32) -> f32 { return part[candAt(i)]; }
fn srcIdx(i: u32) -> u32 { return u32(part[candAt(i) + 1u]); }
fn srcKey(i: u32) -> u32 {
  if (srcIdx(i) >= params.V) { return 0u; } // padding: below every real key
  return keyOf(srcVal(i));
}

fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

fn stateMode() -> bool { return (params.flags & 1u) != 0u; }

fn randomU(row: u32) -> f32 {
  if (params.u >= 0.0) { return params.u; }
  var step = params.step + row;
  if (stateMode()) { step += state[0]; }
  return f32(pcg(params.seed ^ pcg(step)) >> 8u) * (1.0 / 16777216.0);
}

// Called by one thread.
fn emit(row: u32, token: u32) {
  var tok = token;
  if ((params.flags & 2u) != 0u && atomicLoad(&bad) != 0u) { tok = 0xffffffffu; }
  if (stateMode()) {
    let pos = state[0];
    out[pos + 1u] = tok;
    state[0] = pos + 1u;
  } else {
    out[params.outIndex + row] = tok;
  }
}

@compute @workgroup_size(256)
fn argmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  _ = &logits; // every entry point binds the same buffers
  let row = wid.x;
  let base = params.partOff + row * params.G * 3u;
  var best = LOWEST;
  var idx = 0xffffffffu;
  var flag = false;
  for (var g = t; g < params.G; g += WG) {
    let p = base + 3u * g;
    let v = part[p];
    let i = u32(part[p + 1u]);
    flag = flag || part[p + 2u] != 0.0;
    if (i != 0xffffffffu && (idx == 0xffffffffu || v > best || (v == best && i < idx))) { best = v; idx = i; }
  }
  argmaxReduce(t, best, idx, flag);
  if (t == 0u) { emit(row, ri[0]); }
}

@compute @workgroup_size(256)
fn topk(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  _ = &logits;
  let row = wid.x;
  candBase = params.partOff + row * params.G * (1u + 2u * params.KC);
  for (var g = t; g < params.G; g += WG) {
    if (part[candBase + g * (1u + 2u * params.KC)] != 0.0) { atomicOr(&bad, 1u); }
  }
  let k = min(params.k, params.V);
  topK(t, k, true);

  let vmax = cv[0];
  var p = 0.0;
  if (t < k) { p = exp((cv[t] - vmax) * params.invTemp); }
  pr[t] = p;
  workgroupBarrier();
  if (t == 0u) {
    var s = 0.0;
    for (var j = 0u; j < k; j++) {
      s += pr[j];
      pr[j] = s;
    }
  }
  workgroupBarrier();
  let total = pr[k - 1u];
  var excl = 0.0;
  if (t > 0u) { excl = pr[t - 1u]; }
  if (t < k && excl < params.topP * total) { atomicAdd(&counter, 1u); }
  workgroupBarrier();
  let nKeep = max(atomicLoad(&counter), 1u);
  let goal = randomU(row) * pr[nKeep - 1u];
  if (t < nKeep && pr[t] <= goal) { atomicAdd(&counter2, 1u); }
  workgroupBarrier();
  if (t == 0u) {
    let c = min(atomicLoad(&counter2), nKeep - 1u);
    emit(row, ci[c]);
  }
}

@compute @workgroup_size(256)
fn full(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wid.x;
  let G = params.G;
  let pb = params.partOff + row * G * 3u;
  // M and the flag over the slices, then thread 0 finds the slice holding the goal (G is small: V / S)
  var m = LOWEST;
  var flag = false;
  for (var g = t; g < G; g += WG) {
    m = max(m, part[pb + 3u * g]);
    flag = flag || part[pb + 3u * g + 2u] != 0.0;
  }
  let M = maxReduce(t, m, flag);
  if (t == 0u) {
    var total = 0.0;
    for (var g = 0u; g < G; g++) { total += part[pb + 3u * g + 1u] * exp((part[pb + 3u * g] - M) * params.invTemp); }
    let goal = randomU(row) * total;
    // the slice whose cumulative range holds the goal (or the last with mass when rounding reached the total)
    var cum = 0.0;
    var gs = 0u;
    var last = 0u;
    var found = false;
    for (var g = 0u; g < G; g++) {
      let w = part[pb + 3u * g + 1u] * exp((part[pb + 3u * g] - M) * params.invTemp);
      if (w > 0.0) { last = g; }
      if (!found && cum + w > goal) { gs = g; found = true; shf[0] = goal - cum; }
      cum += w;
    }
    if (!found) { gs = last; shf[0] = goal - (cum - part[pb + 3u * last + 1u] * exp((part[pb + 3u * last] - M) * params.invTemp)); }
    shu = gs;
  }
  let gs = workgroupUniformLoad(&shu);
  let goalInSlice = shf[0];

  // walk slice gs: contiguous chunks of C per thread, per-chunk sums of exp((v − M)/T), serial prefix
  let lo0 = min(gs * params.S, params.V);
  let n = min(lo0 + params.S, params.V) - lo0;
  let base = params.off + row * params.stride + lo0;
  let C = (n + WG - 1u) / WG;
  let lo = min(t * C, n);
  let hi = min(lo + C, n);
  var sum = 0.0;
  for (var i = lo; i < hi; i++) { sum += exp((clean(logits[base + i]) - M) * params.invTemp); }
  pr[t] = sum;
  workgroupBarrier();
  if (t == 0u) {
    var s = 0.0;
    for (var j = 0u; j < WG; j++) {
      s += pr[j];
      pr[j] = s;
    }
  }
  workgroupBarrier();
  let tot = pr[WG - 1u];
  let goal = min(goalInSlice, tot);
  var excl = 0.0;
  if (t > 0u) { excl = pr[t - 1u]; }
  let mine = pr[t];
  if (excl <= goal && (goal < mine || (mine >= tot && excl < tot))) {
    let local = goal - excl;
    var run = 0.0;
    var lastI = lo;
    var chosen = 0xffffffffu;
    for (var i = lo; i < hi; i++) {
      let q = exp((clean(logits[base + i]) - M) * params.invTemp);
      run += q;
      if (q > 0.0) { lastI = i; }
      if (run > local) {
        chosen = i;
        break;
      }
    }
    if (chosen == 0xffffffffu) { chosen = lastI; }
    emit(row, lo0 + chosen);
  }
}
