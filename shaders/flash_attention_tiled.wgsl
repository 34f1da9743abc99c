// flash_attention_tiled: causal attention with online softmax (FlashAttention-2), register-tiled like a matmul.
// Same inputs, outputs, Params and IO snippet as flash_attention.wgsl (f32 element addresses, any head dim): q row
//   (h, i) at qOffset + i*qRowStride + h*qHeadStride for queries at positions pos0..pos0+L-1; k_cache, v_cache
//   [H, maxLen, hd] (keys 0..pos0+L-1 valid); out row (i, h) at oOffset + i*oRowStride + h*hd (merged heads). Rows
//   are read as HD4 = ceil(hd/4) vec4s through ld_q / ld_k / ld_v (padded dims are 0) and written through st_out.
// Tiling: one workgroup per (block of BR queries, head); key blocks of BC keys. Threads form an NTY x NTX grid
//   (NTY = BR/4, NTX = BC/4); thread (ty, tx) owns the 4 query rows 4*ty.. and
//   * in S = Q K^T: the 4 x 4 score tile s0..s3 (rows) x keys 4*tx..4*tx+3: per head dim d one vec4 of Q^T (4 rows,
//     a broadcast within the row's threads) and one vec4 of K^T (4 keys) from workgroup memory, 16 FMA;
//   * in O += P V: the 4 x (4*DV4) output tile of dims d4 = tx + NTX*k (k < DV4 = ceil(HD4/NTX)), in registers
//     for the whole loop: per key one vec4 of P^T (4 rows) and DV4 vec4s of V, 16*DV4 FMA. When NTX does not divide
//     HD4 (e.g. hd 10, or hd 48 with BC 32), the accumulators with d4 >= HD4 are skipped (EXACT: no such dims).
//   Row statistics (running max m, partial sum l, rescale alpha) are vec4s over the thread's 4 rows. Q is pre-scaled
//   by log2(e)/sqrt(hd), so p = exp2(s - m).
// Workgroup memory: qt = Q^T [HD][BR] (staged once); kp = K^T [HD][BC] for the score phase, then P^T [BC][BR]
//   (K is dead by then), followed in the same array by the V tile V [BC][HD] at VS_OFF. Row reductions (max per
//   block, sum at the end) combine the NTX threads of a row through the snippet the wrapper picks (include RED) (red_put4 /
//   red_max4 / red_sum4 on vec4s of 4 rows): flash_attention_tiled_red_shared.wgsl (NTX vec4 slots per 4 rows,
//   RED4 = NTX*BR/4 vec4s, after the K^T / P^T area, or with RED_IN_V in the V tile before V is staged) or
//   flash_attention_tiled_red_subgroup.wgsl (shuffles).
// Per key block (causal: blocks past the block's last query are never visited; only diagonal blocks are masked):
//   stage K^T (and V) | S tile, mask, partial row max -> red | row max, p, alpha, l; P^T -> kp |
//   [RED_IN_V: stage V |] o = o*alpha + P V | (barriers at each "|": 4, or 5 with RED_IN_V).
//   K and V pass through registers (pk, pv). (A register prefetch of the next block and V read from global memory
//   instead of a V tile were measured and never won: docs/flash-attention-notes.md.)
// Consts the wrapper sets: HEAD_DIM, HD4, BR, BC (multiples of 4), RED_IN_V (bool).
//   Workgroup storage: 16*(HD*BR4 + max(HD*BC4, BC*BR4) + BC*HD4) bytes, + 16*RED4 unless RED_IN_V or subgroups.
//   Grid: (ceil(L/BR), H); workgroup x takes query block ceil(L/BR)-1-x (heaviest first).

#include "flash_attention_tiled_red_{RED}.wgsl"
#include "flash_attention_params.wgsl"
#include "flash_attention_io_{IO}.wgsl"

const HD: u32 = HD4 * 4u;
const NTY: u32 = BR / 4u;
const NTX: u32 = BC / 4u;
const WG: u32 = NTX * NTY;
const BR4: u32 = BR / 4u;
const BC4: u32 = BC / 4u;
const DV4: u32 = (HD4 + NTX - 1u) / NTX;
const EXACT: bool = DV4 * NTX == HD4;            // every output accumulator is a real head dim
const KP4: u32 = max(HD * BC4, BC * BR4);
const KP_RED: u32 = select(RED4, 0u, RED_IN_V);                   // reduction slots appended to kp
const VS_OFF: u32 = KP4 + KP_RED;                                  // V tile: kp[VS_OFF + c*HD4 + d4]
const NPF: u32 = (BC * HD4 + WG - 1u) / WG;      // staged K (and V) vec4s per thread and block

var<workgroup> qt: array<vec4<f32>, HD * BR4>;   // qt[d*BR4 + r/4][r%4] = q[r][d] * scale
// K^T: kp[d*BC4 + c/4][c%4] = k[c][d]; then P^T: kp[c*BR4 + r/4][r%4]; reduction slots at KP4 (unless
// RED_IN_V); the V tile at VS_OFF.
var<workgroup> kp: array<vec4<f32>, KP4 + KP_RED + BC * HD4>;

const NEG: f32 = -3.0e38;

// Reduction slot i (i < RED4) for the snippets.
fn red_store(i: u32, v: vec4<f32>) {
  if (RED_IN_V) { kp[VS_OFF + i] = v; } else { kp[KP4 + i] = v; }
}
fn red_load(i: u32) -> vec4<f32> {
  if (RED_IN_V) { return kp[VS_OFF + i]; }
  return kp[KP4 + i];
}

fn hmax(x: vec4<f32>) -> f32 { return max(max(x.x, x.y), max(x.z, x.w)); }
fn hsum(x: vec4<f32>) -> f32 { return (x.x + x.y) + (x.z + x.w); }

// Loads block kb's K (element e: key e % BC, dims e / BC: lanes along keys, so the transposed stores are
// conflict-free) and V (key e / HD4, dims e % HD4) for this thread's elements e = tid + t*WG; keys >= kend read 0.
fn fetch_kv(pk: ptr<function, array<vec4<f32>, NPF>>, pv: ptr<function, array<vec4<f32>, NPF>>, tid: u32, kvbase: u32, kb: u32, kend: u32) {
  for (var t = 0u; t < NPF; t++) {
    let e = tid + t * WG;
    var kx = vec4<f32>(0.0);
    var vx = vec4<f32>(0.0);
    if (e < BC * HD4) {
      let c = e % BC;
      if (kb + c < kend) { kx = ld_k(kvbase + (kb + c) * HEAD_DIM, e / BC); }
      let cv = e / HD4;
      if (kb + cv < kend) { vx = ld_v(kvbase + (kb + cv) * HEAD_DIM, e % HD4); }
    }
    (*pk)[t] = kx;
    (*pv)[t] = vx;
  }
}

fn put_k(pk: ptr<function, array<vec4<f32>, NPF>>, tid: u32) {
  for (var t = 0u; t < NPF; t++) {
    let e = tid + t * WG;
    if (e < BC * HD4) {
      let c = e % BC;
      let a = (e / BC) * 4u * BC4 + c / 4u;
      let cpt = c % 4u;
      let kx = (*pk)[t];
      kp[a][cpt] = kx.x;
      kp[a + BC4][cpt] = kx.y;
      kp[a + 2u * BC4][cpt] = kx.z;
      kp[a + 3u * BC4][cpt] = kx.w;
    }
  }
}

fn put_v(pv: ptr<function, array<vec4<f32>, NPF>>, tid: u32) {
  for (var t = 0u; t < NPF; t++) {
    let e = tid + t * WG;
    if (e < BC * HD4) { kp[VS_OFF + e] = (*pv)[t]; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let L = params.L;
  let pos0 = params.pos0;
  let h = wg.y;
  let i0 = (params.nqb - 1u - wg.x) * BR;
  let ty = tid / NTX;
  let tx = tid % NTX;

  // Stage Q^T, scaled. Lanes run along rows so the transposed stores hit consecutive words.
  for (var e = tid; e < BR * HD4; e += WG) {
    let r = e % BR;
    let d4 = e / BR;
    let i = min(i0 + r, L - 1u);
    let v = ld_q(params.qOffset + i * params.qRowStride + h * params.qHeadStride, d4) * params.scale;
    let a = d4 * 4u * BR4 + r / 4u;
    let cpt = r % 4u;
    qt[a][cpt] = v.x;
    qt[a + BR4][cpt] = v.y;
    qt[a + 2u * BR4][cpt] = v.z;
    qt[a + 3u * BR4][cpt] = v.w;
  }

  var m = vec4<f32>(NEG);
  var l = vec4<f32>(0.0);
  var o: array<vec4<f32>, 4 * DV4>;                // o[4k + i]: row 4*ty + i, dims tx + NTX*k
  for (var k = 0u; k < 4u * DV4; k++) { o[k] = vec4<f32>(0.0); }

  let last = min(i0 + BR, L) - 1u;                 // last valid query row of the block
  let kend = pos0 + last + 1u;                     // keys the block can see: 0..kend-1
  let qfirst = pos0 + i0;                          // position of the block's first query
  let kvbase = h * params.maxLen * HEAD_DIM;
  // Positions of this thread's 4 rows (rows past L clamped to the last one) and its 4 key offsets.
  let qpos = vec4<u32>(pos0) + min(vec4<u32>(i0 + 4u * ty) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(L - 1u));
  let kcol = vec4<u32>(4u * tx) + vec4<u32>(0u, 1u, 2u, 3u);

  var pk: array<vec4<f32>, NPF>;
  var pv: array<vec4<f32>, NPF>;

  for (var kb = 0u; kb < kend; kb += BC) {
    fetch_kv(&pk, &pv, tid, kvbase, kb, kend);
    put_k(&pk, tid);
    if (!RED_IN_V) { put_v(&pv, tid); }
    workgroupBarrier();

    // S tile (log2 units): s_i = scores of row 4*ty + i against keys kb + 4*tx .. +3.
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    for (var d = 0u; d < HD; d++) {
      let a = qt[d * BR4 + ty];
      let b = kp[d * BC4 + tx];
      s0 += a.x * b;
      s1 += a.y * b;
      s2 += a.z * b;
      s3 += a.w * b;
    }
    // Causal mask, only in blocks that reach past the block's first query.
    if (kb + BC > qfirst + 1u) {
      let key = vec4<u32>(kb) + kcol;
      s0 = select(s0, vec4<f32>(NEG), key > vec4<u32>(qpos.x));
      s1 = select(s1, vec4<f32>(NEG), key > vec4<u32>(qpos.y));
      s2 = select(s2, vec4<f32>(NEG), key > vec4<u32>(qpos.z));
      s3 = select(s3, vec4<f32>(NEG), key > vec4<u32>(qpos.w));
    }
    let mp = vec4<f32>(hmax(s0), hmax(s1), hmax(s2), hmax(s3));
    red_put4(ty, tx, mp);
    workgroupBarrier();

    // Row max over the block, probabilities, running sums; P^T into kp (K is no longer read).
    let mx = max(m, red_max4(ty, tx, mp));
    let alpha = exp2(m - mx);
    m = mx;
    let p0 = exp2(s0 - vec4<f32>(mx.x));
    let p1 = exp2(s1 - vec4<f32>(mx.y));
    let p2 = exp2(s2 - vec4<f32>(mx.z));
    let p3 = exp2(s3 - vec4<f32>(mx.w));
    l = l * alpha + vec4<f32>(hsum(p0), hsum(p1), hsum(p2), hsum(p3));
    let pa = 4u * tx * BR4 + ty;
    kp[pa] = vec4<f32>(p0.x, p1.x, p2.x, p3.x);
    kp[pa + BR4] = vec4<f32>(p0.y, p1.y, p2.y, p3.y);
    kp[pa + 2u * BR4] = vec4<f32>(p0.z, p1.z, p2.z, p3.z);
    kp[pa + 3u * BR4] = vec4<f32>(p0.w, p1.w, p2.w, p3.w);
    workgroupBarrier();
    if (RED_IN_V) {
      // The reduction slots in the V tile are dead now: stage V.
      put_v(&pv, tid);
      workgroupBarrier();
    }

    // O tile: o = o * alpha + P V.
    for (var k = 0u; k < DV4; k++) {
      o[4u * k] *= alpha.x;
      o[4u * k + 1u] *= alpha.y;
      o[4u * k + 2u] *= alpha.z;
      o[4u * k + 3u] *= alpha.w;
    }
    for (var c = 0u; c < BC; c++) {
      let a = kp[c * BR4 + ty];
      for (var k = 0u; k < DV4; k++) {
        if (EXACT || tx + NTX * k < HD4) {
          let b = kp[VS_OFF + c * HD4 + tx + NTX * k];
          o[4u * k] += a.x * b;
          o[4u * k + 1u] += a.y * b;
          o[4u * k + 2u] += a.z * b;
          o[4u * k + 3u] += a.w * b;
        }
      }
    }
    workgroupBarrier();
  }

  // Row sums: reduce the per-thread partial sums over the NTX threads of each row.
  red_put4(ty, tx, l);
  workgroupBarrier();
  let inv = 1.0 / red_sum4(ty, tx, l);
  for (var i = 0u; i < 4u; i++) {
    let row = i0 + 4u * ty + i;
    if (row < L) {
      let obase = params.oOffset + row * params.oRowStride + h * HEAD_DIM;
      for (var k = 0u; k < DV4; k++) {
        if (EXACT || tx + NTX * k < HD4) { st_out(obase, tx + NTX * k, o[4u * k + i] * inv[i]); }
      }
    }
  }
}
