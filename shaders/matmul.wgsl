// matmul: Y[M, N] = X[M, K] · W[N, K]ᵀ (+ bias[N]) (+ residual[M, N] or += Y), f32 accumulation.
// Layout: X a strided row-major view (x[xOff + m·xStride + k]). W in PyTorch Linear layout [N, K] row-major (one
// row block of a possibly split tensor: rows [0, N) of this block), f32 or packed f16 pairs (word j = elements 2j,
// 2j+1 of the block, read through unpack2x16float). Y is a strided view (y[yOff + m·yStride + n]), so a block can
// write a column slice of a wider buffer.
// Loads: X_VEC4 (K, xOff, xStride multiples of 4) reads X as vec4; W_VEC reads W as vec4<u32> (f32: 4 values per
// load, K % 4 == 0; f16: 8 values per load, K % 8 == 0). Otherwise (any K, any offset and stride, e.g. dt_proj with
// dt_rank 5 reading a column slice of x_proj's output) each thread loads its 4 values one by one with the k tail
// masked; the buffers stay bound as vec4 arrays, indexed [i / 4][i % 4] (the pool rounds buffers to 16 bytes).
// Tiling: a 16×16 workgroup computes a 64×64 tile of Y; each thread a 4×4 register block (rows ty·4.., cols
// tx·4..). K is walked in steps of BK = 16: the X and W tiles are staged transposed ([k][m], [k][n]) in 8 KiB of
// workgroup memory so the inner loop reads one vec4 of X rows and one vec4 of W rows per k. Tails in M, N and K
// are masked (zeros loaded, stores skipped).
// DIRECT (a CPU adapter: a software rasteriser pays per invocation at every barrier): the same 64×64 tiles, 64
// threads of 8×8 blocks (direct8), each reading its X rows and W rows straight from memory (no staging, no barriers),
// vec4 where the layout allows, else per element with the tails masked.
// Epilogue flags: 1 = add bias[biasOff + n], 2 = accumulate (Y += result), 4 = add residual r[rOff + m·rStride + n].

override W_F16: bool = false;
override X_VEC4: bool = true;
override W_VEC: bool = true;
override DIRECT: bool = false;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  xOff: u32,      // floats
  xStride: u32,   // floats
  yOff: u32,
  yStride: u32,
  rOff: u32,
  rStride: u32,
  biasOff: u32,
  flags: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> xs: array<vec4<f32>, 256>; // [BK][BM / 4]
var<workgroup> ws: array<vec4<f32>, 256>; // [BK][BN / 4]

fn unpack8(q: vec4<u32>, lo: ptr<function, vec4<f32>>, hi: ptr<function, vec4<f32>>) {
  let a = unpack2x16float(q.x);
  let b = unpack2x16float(q.y);
  let c = unpack2x16float(q.z);
  let d = unpack2x16float(q.w);
  *lo = vec4<f32>(a, b);
  *hi = vec4<f32>(c, d);
}

// DIRECT loads: X[m, k .. k + 4) and W[n, k .. k + 4) (zeros past M, N or K; vec4 loads when aligned).
fn xq(m: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (m >= params.M) { return v; }
  let r = params.xOff + m * params.xStride;
  if (X_VEC4 && k + 3u < params.K) { return x[(r + k) >> 2u]; }
  for (var j = 0u; j < 4u; j++) {
    if (k + j < params.K) {
      let i = r + k + j;
      v[j] = x[i >> 2u][i & 3u];
    }
  }
  return v;
}

fn wq(n: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (n >= params.N) { return v; }
  let K = params.K;
  if (W_VEC && !W_F16 && k + 3u < K) { return bitcast<vec4<f32>>(w[(n * K + k) >> 2u]); }
  for (var j = 0u; j < 4u; j++) {
    if (k + j < K) {
      let e = n * K + k + j;
      if (W_F16) {
        let word = e >> 1u;
        v[j] = unpack2x16float(w[word >> 2u][word & 3u])[e & 1u];
      } else {
        v[j] = bitcast<f32>(w[e >> 2u][e & 3u]);
      }
    }
  }
  return v;
}

// The same with the aligned layouts read as one vec4, rows clamped to the last (rows past M or N are never stored):
// no per-element path in the loop (SwiftShader runs the aligned loop twice as fast without it).
fn x4(m: u32, k: u32) -> vec4<f32> {
  if (!X_VEC4) { return xq(m, k); }
  if (k >= params.K) { return vec4<f32>(0.0); }
  return x[(params.xOff + min(m, params.M - 1u) * params.xStride + k) >> 2u];
}

fn w4(n: u32, k: u32) -> vec4<f32> {
  if (!W_VEC || W_F16) { return wq(n, k); }
  if (k >= params.K) { return vec4<f32>(0.0); }
  return bitcast<vec4<f32>>(w[(min(n, params.N - 1u) * params.K + k) >> 2u]);
}

// DIRECT: Y[m0 .. m0 + 8, n0 .. n0 + 8) with the epilogue, 8 k per step (x4 / w4: zeros past K).
fn direct8(m0: u32, n0: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  if (m0 >= M || n0 >= N) { return; }
  var acc: array<vec4<f32>, 16>; // row i: cols 0..3 at 2i, cols 4..7 at 2i + 1
  for (var k = 0u; k < K; k += 8u) {
    var blo: array<vec4<f32>, 8>;
    var bhi: array<vec4<f32>, 8>;
    for (var j = 0u; j < 8u; j++) {
      if (W_F16 && W_VEC) {
        // one 16-byte load holds 8 halves of the row (rows past N: the last row's, never stored)
        var lo: vec4<f32>;
        var hi: vec4<f32>;
        unpack8(w[(min(n0 + j, N - 1u) * K + k) >> 3u], &lo, &hi);
        blo[j] = lo;
        bhi[j] = hi;
      } else {
        blo[j] = w4(n0 + j, k);
        bhi[j] = w4(n0 + j, k + 4u);
      }
    }
    for (var i = 0u; i < 8u; i++) {
      let a = x4(m0 + i, k);
      let b = x4(m0 + i, k + 4u);
      acc[2u * i] += vec4<f32>(dot(a, blo[0]) + dot(b, bhi[0]), dot(a, blo[1]) + dot(b, bhi[1]),
                               dot(a, blo[2]) + dot(b, bhi[2]), dot(a, blo[3]) + dot(b, bhi[3]));
      acc[2u * i + 1u] += vec4<f32>(dot(a, blo[4]) + dot(b, bhi[4]), dot(a, blo[5]) + dot(b, bhi[5]),
                                    dot(a, blo[6]) + dot(b, bhi[6]), dot(a, blo[7]) + dot(b, bhi[7]));
    }
  }
  let flags = params.flags;
  for (var i = 0u; i < 8u; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    let yRow = params.yOff + m * params.yStride;
    let rRow = params.rOff + m * params.rStride;
    for (var j = 0u; j < 8u; j++) {
      let n = n0 + j;
      if (n >= N) { break; }
      var o = acc[2u * i + (j >> 2u)][j & 3u];
      if ((flags & 1u) != 0u) { o += bias[params.biasOff + n]; }
      if ((flags & 4u) != 0u) { o += res[rRow + n]; }
      if ((flags & 2u) != 0u) { o += y[yRow + n]; }
      y[yRow + n] = o;
    }
  }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let tx = lid.x;
  let ty = lid.y;

  // Loader roles: X tile (64 rows × 16 k = 256 vec4): thread t loads row t/4, k-quad t%4.
  let lm = t >> 2u;
  let lc = t & 3u;
  let xRow = m0 + lm;
  let xValid = xRow < M;
  let xBase = (params.xOff + xRow * params.xStride) >> 2u;
  // W tile: f32 like X; f16 threads t < 128 load row t/2, 8-value group t%2.
  let wRowF32 = n0 + lm;
  let wRow16 = n0 + (t >> 1u);
  let c16 = t & 1u;

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);

  if (DIRECT) {
    // threads t < 64 each own an 8×8 block of the tile (half the loads per multiply-add of 4×4 blocks)
    if (t < 64u) {
      direct8(m0 + (t >> 3u) * 8u, n0 + (t & 7u) * 8u);
    }
    return;
  }
  for (var k0 = 0u; k0 < K; k0 += BK) {
    // Stage X transposed: xs[k][m].
    var xv = vec4<f32>(0.0);
    let kx = k0 + lc * 4u;
    if (X_VEC4) {
      if (xValid && kx < K) { xv = x[xBase + (kx >> 2u)]; }
    } else if (xValid) {
      let xRowStart = params.xOff + xRow * params.xStride;
      for (var j = 0u; j < 4u; j++) {
        if (kx + j < K) {
          let i = xRowStart + kx + j;
          xv[j] = x[i >> 2u][i & 3u];
        }
      }
    }
    let mq = lm >> 2u;
    let mc = lm & 3u;
    xs[(lc * 4u + 0u) * 16u + mq][mc] = xv.x;
    xs[(lc * 4u + 1u) * 16u + mq][mc] = xv.y;
    xs[(lc * 4u + 2u) * 16u + mq][mc] = xv.z;
    xs[(lc * 4u + 3u) * 16u + mq][mc] = xv.w;

    // Stage W transposed: ws[k][n].
    if (!W_VEC) {
      // any K: 4 scalar loads per thread (row lm of the tile, k = kx .. kx + 3), like X
      var wv = vec4<f32>(0.0);
      if (wRowF32 < N) {
        for (var j = 0u; j < 4u; j++) {
          if (kx + j < K) {
            let e = wRowF32 * K + kx + j; // element index in the block
            if (W_F16) {
              let word = e >> 1u;
              wv[j] = unpack2x16float(w[word >> 2u][word & 3u])[e & 1u];
            } else {
              wv[j] = bitcast<f32>(w[e >> 2u][e & 3u]);
            }
          }
        }
      }
      ws[(lc * 4u + 0u) * 16u + mq][mc] = wv.x;
      ws[(lc * 4u + 1u) * 16u + mq][mc] = wv.y;
      ws[(lc * 4u + 2u) * 16u + mq][mc] = wv.z;
      ws[(lc * 4u + 3u) * 16u + mq][mc] = wv.w;
    } else if (W_F16) {
      if (t < 128u) {
        var lo = vec4<f32>(0.0);
        var hi = vec4<f32>(0.0);
        let kw = k0 + c16 * 8u;
        if (wRow16 < N && kw < K) { unpack8(w[(wRow16 * K + kw) >> 3u], &lo, &hi); }
        let nl = t >> 1u;
        let nq = nl >> 2u;
        let nc = nl & 3u;
        let kb = c16 * 8u;
        ws[(kb + 0u) * 16u + nq][nc] = lo.x;
        ws[(kb + 1u) * 16u + nq][nc] = lo.y;
        ws[(kb + 2u) * 16u + nq][nc] = lo.z;
        ws[(kb + 3u) * 16u + nq][nc] = lo.w;
        ws[(kb + 4u) * 16u + nq][nc] = hi.x;
        ws[(kb + 5u) * 16u + nq][nc] = hi.y;
        ws[(kb + 6u) * 16u + nq][nc] = hi.z;
        ws[(kb + 7u) * 16u + nq][nc] = hi.w;
      }
    } else {
      var wv = vec4<f32>(0.0);
      if (wRowF32 < N && kx < K) { wv = bitcast<vec4<f32>>(w[(wRowF32 * K + kx) >> 2u]); }
      ws[(lc * 4u + 0u) * 16u + mq][mc] = wv.x;
      ws[(lc * 4u + 1u) * 16u + mq][mc] = wv.y;
      ws[(lc * 4u + 2u) * 16u + mq][mc] = wv.z;
      ws[(lc * 4u + 3u) * 16u + mq][mc] = wv.w;
    }
    workgroupBarrier();

    for (var k = 0u; k < BK; k++) {
      let a = xs[k * 16u + ty];
      let b = ws[k * 16u + tx];
      acc0 += a.x * b;
      acc1 += a.y * b;
      acc2 += a.z * b;
      acc3 += a.w * b;
    }
    workgroupBarrier();
  }

  // Epilogue.
  let flags = params.flags;
  let nb = n0 + tx * 4u;
  var bv = vec4<f32>(0.0);
  if ((flags & 1u) != 0u) {
    for (var j = 0u; j < 4u; j++) {
      if (nb + j < N) { bv[j] = bias[params.biasOff + nb + j]; }
    }
  }
  var accs = array<vec4<f32>, 4>(acc0 + bv, acc1 + bv, acc2 + bv, acc3 + bv);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty * 4u + i;
    if (m >= M) { break; }
    let yRow = params.yOff + m * params.yStride;
    let rRow = params.rOff + m * params.rStride;
    let v = accs[i];
    for (var j = 0u; j < 4u; j++) {
      let n = nb + j;
      if (n < N) {
        var o = v[j];
        if ((flags & 4u) != 0u) { o += res[rRow + n]; }
        if ((flags & 2u) != 0u) { o += y[yRow + n]; }
        y[yRow + n] = o;
      }
    }
  }
}
