// decode_matvec_lib: the code the decode matrix-vector kernels share (decode_matvec, mamba_decode_in and
// mamba2_decode_in through decode_in_lib, attention_decode_out). Not a kernel: those shaders `#include` it.
// Tiling: a workgroup of WG threads computes ROWS output rows of one weight block W [N, K] (PyTorch Linear layout,
// f32, or packed f16 pairs read with unpack2x16float: element e of the block is half e & 1 of word e >> 1);
// LANES = WG / ROWS threads per row stride over the row's 16-byte chunks (4 f32 or 8 f16), four chunks in flight per
// thread (the loop is latency-bound otherwise), then the lanes of a row are summed in workgroup memory.
// VEC: rows start on a 16-byte boundary (f32: K % 4 == 0; f16: K % 8 == 0); otherwise every element is read on its
// own (any K, e.g. dt_rank 5), slower but exact.
// The input vector x [K] is staged in workgroup memory (STAGED, xs) by the kernel's prologue (copy, normalisation or
// attention combine); when it does not fit, the kernel's xglobal(k) hook computes x[k] from global memory instead.
// Hooks each kernel defines: wchunk(seg, i) -> vec4<u32>: 16-byte chunk i of segment seg's weight block;
// xglobal(k) -> f32 (used only when STAGED is false).

override WG: u32 = 256u;
override LANES: u32 = 64u;
override ROWS: u32 = WG / LANES;
override K: u32 = 4u;
override W_F16: bool = false;
override VEC: bool = true;
override STAGED: bool = true;
override XS4: u32 = 1u;

var<workgroup> xs: array<vec4<f32>, XS4>;
var<workgroup> red: array<f32, WG>;
var<workgroup> red2: array<f32, WG>;

fn xsGet(k: u32) -> f32 { return xs[k >> 2u][k & 3u]; }
fn xsSet(k: u32, v: f32) { xs[k >> 2u][k & 3u] = v; }

// x[4j .. 4j + 4)
fn x4(j: u32) -> vec4<f32> {
  if (STAGED) { return xs[j]; }
  let k = 4u * j;
  return vec4<f32>(xglobal(k), xglobal(k + 1u), xglobal(k + 2u), xglobal(k + 3u));
}

fn x1(k: u32) -> f32 {
  if (STAGED) { return xsGet(k); }
  return xglobal(k);
}

// Chunk c of a row (columns 4c.. for f32, 8c.. for f16) dotted with x.
fn chunkDot(q: vec4<u32>, c: u32) -> f32 {
  if (W_F16) {
    let a = vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y));
    let b = vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w));
    return dot(a, x4(2u * c)) + dot(b, x4(2u * c + 1u));
  }
  return dot(bitcast<vec4<f32>>(q), x4(c));
}

// Element e of segment seg's weight block.
fn welem(seg: u32, e: u32) -> f32 {
  if (W_F16) {
    let word = e >> 1u;
    let p = unpack2x16float(wchunk(seg, word >> 2u)[word & 3u]);
    return select(p.x, p.y, (e & 1u) == 1u);
  }
  return bitcast<f32>(wchunk(seg, e >> 2u)[e & 3u]);
}

// This lane's share of Σ_k W[row, k] · x[k] (row counted within segment seg's block) for a block of k columns read
// by `lanes` threads per row, 16-byte chunks when `vec`. laneDot uses the module's K / LANES / VEC; kernels that
// run several matrix shapes (mamba_decode_layer) pass theirs (constants at each call site, inlined by the compiler).
fn laneDotK(seg: u32, row: u32, lane: u32, k: u32, lanes: u32, vec: bool) -> f32 {
  var acc = 0.0;
  if (vec) {
    let nc = select(k / 4u, k / 8u, W_F16);
    let base = row * nc;
    var c = lane;
    for (; c + 3u * lanes < nc; c += 4u * lanes) {
      let q0 = wchunk(seg, base + c);
      let q1 = wchunk(seg, base + c + lanes);
      let q2 = wchunk(seg, base + c + 2u * lanes);
      let q3 = wchunk(seg, base + c + 3u * lanes);
      acc += (chunkDot(q0, c) + chunkDot(q1, c + lanes)) + (chunkDot(q2, c + 2u * lanes) + chunkDot(q3, c + 3u * lanes));
    }
    for (; c < nc; c += lanes) { acc += chunkDot(wchunk(seg, base + c), c); }
  } else {
    let base = row * k;
    for (var j = lane; j < k; j += lanes) { acc += welem(seg, base + j) * x1(j); }
  }
  return acc;
}

fn laneDot(seg: u32, row: u32, lane: u32) -> f32 {
  return laneDotK(seg, row, lane, K, LANES, VEC);
}

// Weight prefetch (the decode kernels' prologue latency): prefetch() issues this lane's first four 16-byte chunks of
// the row (module K / LANES / VEC) into registers before the kernel's prologue (staging x, norm statistics, its
// barriers), so the weight loads are in flight while the prologue runs instead of starting after it; laneDotPf()
// then sums exactly as laneDot() does (same chunks, same order, same rounding), taking the first four chunks from
// the registers. Without VEC (any K) both fall back to laneDot's element loop.
var<private> pf0: vec4<u32>;
var<private> pf1: vec4<u32>;
var<private> pf2: vec4<u32>;
var<private> pf3: vec4<u32>;

fn rowChunks() -> u32 { return select(K / 4u, K / 8u, W_F16); }

fn prefetch(seg: u32, row: u32, lane: u32) {
  if (!VEC) { return; }
  let nc = rowChunks();
  let base = row * nc;
  let c = lane;
  if (c < nc) { pf0 = wchunk(seg, base + c); }
  if (c + LANES < nc) { pf1 = wchunk(seg, base + c + LANES); }
  if (c + 2u * LANES < nc) { pf2 = wchunk(seg, base + c + 2u * LANES); }
  if (c + 3u * LANES < nc) { pf3 = wchunk(seg, base + c + 3u * LANES); }
}

fn laneDotPf(seg: u32, row: u32, lane: u32) -> f32 {
  if (!VEC) { return laneDot(seg, row, lane); }
  let lanes = LANES;
  let nc = rowChunks();
  let base = row * nc;
  var acc = 0.0;
  var c = lane;
  if (c + 3u * lanes < nc) {
    acc += (chunkDot(pf0, c) + chunkDot(pf1, c + lanes)) + (chunkDot(pf2, c + 2u * lanes) + chunkDot(pf3, c + 3u * lanes));
    c += 4u * lanes;
    for (; c + 3u * lanes < nc; c += 4u * lanes) {
      let q0 = wchunk(seg, base + c);
      let q1 = wchunk(seg, base + c + lanes);
      let q2 = wchunk(seg, base + c + 2u * lanes);
      let q3 = wchunk(seg, base + c + 3u * lanes);
      acc += (chunkDot(q0, c) + chunkDot(q1, c + lanes)) + (chunkDot(q2, c + 2u * lanes) + chunkDot(q3, c + 3u * lanes));
    }
  } else {
    // fewer than four chunks for this lane: the tail, from the registers
    if (c < nc) { acc += chunkDot(pf0, c); }
    if (c + lanes < nc) { acc += chunkDot(pf1, c + lanes); }
    if (c + 2u * lanes < nc) { acc += chunkDot(pf2, c + 2u * lanes); }
    return acc;
  }
  for (; c < nc; c += lanes) { acc += chunkDot(wchunk(seg, base + c), c); }
  return acc;
}

// Sum of v over the `lanes` threads of each row slot, returned to lane 0 of the slot (others get a partial sum).
// Two levels with one or two barriers whatever `lanes` (a barrier tree would take log2(lanes)): lanes ≤ 32 are summed
// by lane 0; wider slots first by 16 threads over contiguous chunks. Call from uniform control flow.
fn laneSumL(t: u32, v: f32, lanes: u32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  let lane = t % lanes;
  let base = t - lane;
  if (lanes <= 32u) {
    var s = 0.0;
    if (lane == 0u) { for (var j = 0u; j < lanes; j++) { s += red[base + j]; } }
    return s;
  }
  let per = lanes / 16u;
  if (lane < 16u) {
    var s = 0.0;
    for (var j = 0u; j < per; j++) { s += red[base + lane * per + j]; }
    red2[base + lane] = s;
  }
  workgroupBarrier();
  var s = 0.0;
  if (lane == 0u) { for (var j = 0u; j < 16u; j++) { s += red2[base + j]; } }
  return s;
}

// laneSum(t, v) (the row sum with the module's LANES, to lane 0 of the row) comes from one of two snippets the
// wrapper appends: decode_matvec_red_shared.wgsl (laneSumL above) or decode_matvec_red_subgroup.wgsl (shuffles).

// Sum (or max) of v over the whole workgroup, returned to every thread: 16 threads each fold WG / 16 values, then
// every thread folds the 16 partials. Two barriers. Call from uniform control flow.
fn wgSum(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  let per = WG / 16u;
  if (t < 16u) {
    var s = 0.0;
    for (var j = 0u; j < per; j++) { s += red[t * per + j]; }
    red2[t] = s;
  }
  workgroupBarrier();
  var s = 0.0;
  for (var j = 0u; j < 16u; j++) { s += red2[j]; }
  return s;
}

fn wgMax(t: u32, v: f32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  let per = WG / 16u;
  if (t < 16u) {
    var m = red[t * per];
    for (var j = 1u; j < per; j++) { m = max(m, red[t * per + j]); }
    red2[t] = m;
  }
  workgroupBarrier();
  var m = red2[0];
  for (var j = 1u; j < 16u; j++) { m = max(m, red2[j]); }
  return m;
}

// Statistics of a row norm over the K raw inputs xraw(k) (staged in xs, or read through the kernel's xin hook):
// returns (shift, scale) with norm(x)[k] = (x[k] − shift) · scale · g[k] (+ b[k]). kind 1: RMSNorm (shift 0,
// scale 1/sqrt(mean(x²) + eps)); kind 2: LayerNorm (two-pass mean and biased variance, as torch). Uniform control flow.
fn normStatsK(t: u32, kind: u32, eps: f32, n: u32) -> vec2<f32> {
  if (kind == 1u) {
    var ss = 0.0;
    for (var k = t; k < n; k += WG) { let v = xraw(k); ss += v * v; }
    return vec2<f32>(0.0, inverseSqrt(wgSum(t, ss) / f32(n) + eps));
  }
  var s1 = 0.0;
  for (var k = t; k < n; k += WG) { s1 += xraw(k); }
  let mean = wgSum(t, s1) / f32(n);
  var s2 = 0.0;
  for (var k = t; k < n; k += WG) { let c = xraw(k) - mean; s2 += c * c; }
  return vec2<f32>(mean, inverseSqrt(wgSum(t, s2) / f32(n) + eps));
}

fn normStats(t: u32, kind: u32, eps: f32) -> vec2<f32> {
  return normStatsK(t, kind, eps, K);
}

// Exact-erf GELU, ½·v·erfc(−v/√2), with Numerical Recipes' erfcc (fractional error < 1.2e-7), as elementwise.wgsl.
fn erfcPos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(-z * z + p);
}

fn gelu(v: f32) -> f32 {
  let z = -v * 0.70710678118654752;
  let e = select(2.0 - erfcPos(-z), erfcPos(z), z >= 0.0);
  return 0.5 * v * e;
}

// Inf or NaN, by the exponent bits (compilers may assume v == v).
fn nonFinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}
