// sample: draws the next token from softmax(logits / T) restricted by top-k and top-p, entirely on the GPU, and
// writes its id to out[outIndex + w] (the token-history buffer), so decode steps chain without readbacks.
// One workgroup of 256 threads per row w (logits at off + w·stride, V ≤ 2³²; stride 0 with many rows draws many
// samples from one distribution). Randomness: u = params.u when ≥ 0, else u = pcg(seed ^ pcg(step + w)) / 2³²
// (24 bits); src/reference/sampling.ts mirrors both bit for bit. NaN and −inf logits count as −FLT_MAX (ties among them go to the lowest index).
//
// Entry `topk` (top-k and/or top-p; k ≤ 256, the wrapper caps it, also for top-p alone):
//   1. radix select of the k-th largest key (order-preserving u32 of the float) in 4 passes of 8 bits, each a
//      256-bin histogram in workgroup atomics (8 privatised copies) over the keys matching the prefix found so far,
//      the digit found by a parallel prefix sum over the bins (loops over the row keep 8 loads in flight per
//      thread: a single workgroup is latency-bound otherwise);
//   2. deterministic gather of the k candidates: every key above the threshold plus the lowest-index ties, each
//      thread scanning a contiguous chunk at offsets from a prefix sum of per-thread counts;
//   3. bitonic sort of the 256 slots by (value desc, index asc) in workgroup memory;
//   4. p_j = exp((v_j − v_0)/T), serial inclusive prefix sum; the top-p nucleus keeps j while Σ_{i<j} p_i < top_p·Σp
//      (HF TopPLogitsWarper, ≥ 1 token); the token is the first j of the nucleus with cum_j > u·cum_last.
// Entry `full` (no truncation): max; per-thread contiguous-chunk sums of exp((v − max)/T); serial prefix sum over
// the 256 chunks; the one thread whose chunk holds u·total walks it to the first index whose running sum exceeds
// the target.

const WG: u32 = 256u;

struct Params {
  V: u32,
  off: u32,
  stride: u32,
  outIndex: u32,
  k: u32,
  topP: f32,
  invTemp: f32,
  seed: u32,
  step: u32,
  u: f32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

// 8 copies of the 256-bin histogram (thread t adds to copy t % 8): logits share their top bits, so one copy
// would serialise most atomics on a few bins.
const HCOPIES: u32 = 8u;
var<workgroup> hist: array<atomic<u32>, 2048>;
var<workgroup> cv: array<f32, 256>;
var<workgroup> ci: array<u32, 256>;
var<workgroup> cntA: array<u32, 256>;
var<workgroup> pr: array<f32, 256>;
var<workgroup> sh: array<u32, 2>;
var<workgroup> shf: f32;
var<workgroup> counter: atomic<u32>;
var<workgroup> counter2: atomic<u32>;

fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

fn randomU(row: u32) -> f32 {
  if (params.u >= 0.0) { return params.u; }
  return f32(pcg(params.seed ^ pcg(params.step + row)) >> 8u) * (1.0 / 16777216.0);
}

// The lowest value used: −FLT_MAX stands for −inf (and NaN), so no infinities are needed at runtime.
const LOWEST: f32 = -0x1.fffffep+127f;

fn clean(v: f32) -> f32 {
  return select(max(v, LOWEST), LOWEST, v != v);
}

// Order-preserving map f32 → u32 (larger float, larger key).
fn keyOf(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  return select(b ^ 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// Inclusive prefix sum over the 256 threads (Hillis–Steele in cntA); call from uniform control flow.
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

fn before(v1: f32, i1: u32, v2: f32, i2: u32) -> bool {
  return v1 > v2 || (v1 == v2 && i1 < i2);
}

@compute @workgroup_size(256)
fn topk(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wid.x;
  let base = params.off + row * params.stride;
  let V = params.V;
  let k = min(params.k, V);
  if (t == 0u) {
    atomicStore(&counter, 0u);
    atomicStore(&counter2, 0u);
  }

  // 1. Radix select: after the 4 passes, prefix is the k-th largest key and kRem the number of keys equal to it
  //    that belong to the top k.
  var prefix = 0u;
  var mask = 0u;
  var kRem = k;
  for (var ps = 0u; ps < 4u; ps++) {
    let shift = 24u - 8u * ps;
    for (var c = 0u; c < HCOPIES; c++) { atomicStore(&hist[c * 256u + t], 0u); }
    workgroupBarrier();
    let hc = (t % HCOPIES) * 256u;
    var i = t;
    for (; i + 7u * WG < V; i += 8u * WG) {
      var vs: array<f32, 8>;
      for (var j = 0u; j < 8u; j++) { vs[j] = logits[base + i + j * WG]; }
      for (var j = 0u; j < 8u; j++) {
        let key = keyOf(clean(vs[j]));
        if ((key & mask) == prefix) { atomicAdd(&hist[hc + ((key >> shift) & 255u)], 1u); }
      }
    }
    for (; i < V; i += WG) {
      let key = keyOf(clean(logits[base + i]));
      if ((key & mask) == prefix) { atomicAdd(&hist[hc + ((key >> shift) & 255u)], 1u); }
    }
    workgroupBarrier();
    // Thread t takes bin b = 255 − t; an inclusive prefix sum over t is the count of keys in bins ≥ b. The chosen
    // bin is the one where that count first reaches kRem.
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
  let tau = prefix;
  let gtTotal = k - kRem;

  // 2. Gather the k candidates in index order per category.
  let C = (V + WG - 1u) / WG;
  let lo = min(t * C, V);
  let hi = min(lo + C, V);
  var ng = 0u;
  var ne = 0u;
  var i0 = lo;
  for (; i0 + 8u <= hi; i0 += 8u) {
    var vs: array<f32, 8>;
    for (var j = 0u; j < 8u; j++) { vs[j] = logits[base + i0 + j]; }
    for (var j = 0u; j < 8u; j++) {
      let key = keyOf(clean(vs[j]));
      ng += select(0u, 1u, key > tau);
      ne += select(0u, 1u, key == tau);
    }
  }
  for (; i0 < hi; i0++) {
    let key = keyOf(clean(logits[base + i0]));
    ng += select(0u, 1u, key > tau);
    ne += select(0u, 1u, key == tau);
  }
  cv[t] = LOWEST;
  ci[t] = 0xffffffffu;
  var pg = scanU32(t, ng) - ng;
  var pe = scanU32(t, ne) - ne;
  for (var i = lo; i < hi; i++) {
    let v = clean(logits[base + i]);
    let key = keyOf(v);
    if (key > tau) {
      cv[pg] = v;
      ci[pg] = i;
      pg++;
    } else if (key == tau && pe < kRem) {
      cv[gtTotal + pe] = v;
      ci[gtTotal + pe] = i;
      pe++;
    }
  }
  workgroupBarrier();

  // 3. Bitonic sort by (value desc, index asc).
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

  // 4. Softmax with temperature, top-p nucleus, draw.
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
    out[params.outIndex + row] = ci[c];
  }
}

@compute @workgroup_size(256)
fn full(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = wid.x;
  let base = params.off + row * params.stride;
  let V = params.V;

  var m = LOWEST;
  var i = t;
  for (; i + 7u * WG < V; i += 8u * WG) {
    var vs: array<f32, 8>;
    for (var j = 0u; j < 8u; j++) { vs[j] = logits[base + i + j * WG]; }
    for (var j = 0u; j < 8u; j++) { m = max(m, clean(vs[j])); }
  }
  for (; i < V; i += WG) { m = max(m, clean(logits[base + i])); }
  pr[t] = m;
  workgroupBarrier();
  for (var s = WG >> 1u; s > 0u; s >>= 1u) {
    if (t < s) { pr[t] = max(pr[t], pr[t + s]); }
    workgroupBarrier();
  }
  if (t == 0u) { shf = pr[0]; }
  let vmax = workgroupUniformLoad(&shf);

  let C = (V + WG - 1u) / WG;
  let lo = min(t * C, V);
  let hi = min(lo + C, V);
  var sum = 0.0;
  var i0 = lo;
  for (; i0 + 8u <= hi; i0 += 8u) {
    var vs: array<f32, 8>;
    for (var j = 0u; j < 8u; j++) { vs[j] = logits[base + i0 + j]; }
    for (var j = 0u; j < 8u; j++) { sum += exp((clean(vs[j]) - vmax) * params.invTemp); }
  }
  for (; i0 < hi; i0++) { sum += exp((clean(logits[base + i0]) - vmax) * params.invTemp); }
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
  let total = pr[WG - 1u];
  let goal = randomU(row) * total;
  var excl = 0.0;
  if (t > 0u) { excl = pr[t - 1u]; }
  let mine = pr[t];
  // Exactly one owner: the chunk whose cumulative range holds the goal, or the last chunk with mass when rounding
  // pushed the goal to the total.
  if (excl <= goal && (goal < mine || (mine >= total && excl < total))) {
    let local = goal - excl;
    var run = 0.0;
    var last = lo;
    var chosen = 0xffffffffu;
    for (var i = lo; i < hi; i++) {
      let q = exp((clean(logits[base + i]) - vmax) * params.invTemp);
      run += q;
      if (q > 0.0) { last = i; }
      if (run > local) {
        chosen = i;
        break;
      }
    }
    if (chosen == 0xffffffffu) { chosen = last; }
    out[params.outIndex + row] = chosen;
  }
}
