// flash_attention_tiled: causal attention with online softmax (FlashAttention-2), register-tiled like a matmul.
// Same inputs, outputs and Params as flash_attention.wgsl (vec4 units, hd % 4 == 0): q row (h, i) at
//   qOffset4 + i*qRowStride4 + h*qHeadStride4 for queries at positions pos0..pos0+L-1; k_cache, v_cache
//   [H, maxLen, hd] (keys 0..pos0+L-1 valid); out row (i, h) at oOffset4 + i*oRowStride4 + h*HD4 (merged heads).
// Tiling: one workgroup per (block of BR queries, head); key blocks of BC keys. Threads form an NTY x NTX grid
//   (NTY = BR/TR, NTX = BC/TC); thread (ty, tx) owns the TR query rows ty*TR.. and
//   * in S = Q K^T: the TR x TC score tile of keys 4*(w*NTX + tx) + 0..3 for w < TC/4 (interleaved so a warp's K^T
//     loads are contiguous), TR/4 + TC/4 vec4 loads from workgroup memory per TR*TC FMAs,
//   * in O += P V: the TR x (4*DV4) output tile of dims d4 = tx + NTX*k (k < DV4), in registers for the whole loop.
//   Workgroup memory: qt = Q^T [HD][BR] (pre-scaled by log2(e)/sqrt(hd), so p = exp2(s - m)); kp = K^T [HD][BC]
//   for the score phase, then reused for P^T [BC][BR], followed by RED4 vec4s for the row reductions; vs = V [BC][HD].
//   Per key block: stage K^T and V | S tile, causal mask (diagonal blocks only), partial row max (red_put) |
//   row max (red_max), p = exp2(s - m'), P^T -> kp | o = o*exp2(m - m') + P V. Four barriers per block. The row
//   sum l is kept per thread (partial over its keys) and reduced over the row's NTX threads once at the end.
//   Key blocks past the block's last query are never visited (causal skipping).
// Row reductions over the NTX threads of a row come from a snippet the wrapper prepends with the consts:
//   flash_attention_tiled_red_shared.wgsl (through RED4 = BR*NTX/4 vec4s of kp; needs the barrier between put and
//   read that the block loop has anyway) or flash_attention_tiled_red_subgroup.wgsl (subgroup shuffles; RED4 = 0).
// PF (bool const): prefetch the next key block's K and V into registers during this block's math (else load, then
//   stage). Sizes: HD4, BR, BC, TR, TC are consts in the prelude (TR, TC in {4, 8}; BR % TR == 0, BC % TC == 0,
//   HD4 % NTX == 0).
//   Workgroup storage: 4*(HD*BR + max(HD*BC, BC*BR) + BC*HD) + 16*RED4 bytes (RED4 = BR*NTX/4 or 0).
//   Grid: (ceil(L/BR), H); workgroup x takes query block ceil(L/BR)-1-x (heaviest first).

const HD: u32 = HD4 * 4u;
const NTY: u32 = BR / TR;
const NTX: u32 = BC / TC;
const WG: u32 = NTX * NTY;
const BR4: u32 = BR / 4u;
const BC4: u32 = BC / 4u;
const TR4: u32 = TR / 4u;
const TC4: u32 = TC / 4u;
const DV4: u32 = HD4 / NTX;
const KP4: u32 = max(HD * BC4, BC * BR4);

struct Params {
  L: u32,
  pos0: u32,
  maxLen: u32,
  H: u32,
  scale: f32,        // log2(e) / sqrt(hd)
  qOffset4: u32,
  qRowStride4: u32,
  qHeadStride4: u32,
  oOffset4: u32,
  oRowStride4: u32,
  nqb: u32,          // ceil(L / BR), the grid's x size
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k_cache: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v_cache: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;

var<workgroup> qt: array<vec4<f32>, HD * BR4>;   // qt[d*BR4 + r/4][r%4] = q[r][d] * scale
// K^T: kp[d*BC4 + c/4][c%4] = k[c][d]; then P^T: kp[c*BR4 + r/4][r%4]; kp[KP4..KP4+RED4): row reduction slots.
var<workgroup> kp: array<vec4<f32>, KP4 + RED4>;
var<workgroup> vs: array<vec4<f32>, BC * HD4>;   // vs[c*HD4 + d4]

const NEG: f32 = -3.0e38;
const NPF: u32 = (BC * HD4 + WG - 1u) / WG;      // staged K (and V) vec4s per thread and block

// Loads block kb's K (element e: key e % BC, dims e / BC) and V (key e / HD4, dims e % HD4) for this thread's
// elements e = tid + t*WG; keys at or past kend read as zeros.
fn fetch_kv(pk: ptr<function, array<vec4<f32>, NPF>>, pv: ptr<function, array<vec4<f32>, NPF>>, tid: u32, kvbase: u32, kb: u32, kend: u32) {
  for (var t = 0u; t < NPF; t++) {
    let e = tid + t * WG;
    var kx = vec4<f32>(0.0);
    var vx = vec4<f32>(0.0);
    if (e < BC * HD4) {
      let c = e % BC;
      if (kb + c < kend) { kx = k_cache[kvbase + (kb + c) * HD4 + e / BC]; }
      let cv = e / HD4;
      if (kb + cv < kend) { vx = v_cache[kvbase + (kb + cv) * HD4 + e % HD4]; }
    }
    (*pk)[t] = kx;
    (*pv)[t] = vx;
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
  let row0 = ty * TR;                              // first of this thread's rows within the block

  // Stage Q^T, scaled. Lanes run along rows so the transposed stores hit consecutive words.
  for (var e = tid; e < BR * HD4; e += WG) {
    let r = e % BR;
    let d4 = e / BR;
    let i = min(i0 + r, L - 1u);
    let v = q[params.qOffset4 + i * params.qRowStride4 + h * params.qHeadStride4 + d4] * params.scale;
    let a = d4 * 4u * BR4 + r / 4u;
    let cpt = r % 4u;
    qt[a][cpt] = v.x;
    qt[a + BR4][cpt] = v.y;
    qt[a + 2u * BR4][cpt] = v.z;
    qt[a + 3u * BR4][cpt] = v.w;
  }

  var m: array<f32, TR>;
  var l: array<f32, TR>;
  var o: array<vec4<f32>, TR * DV4>;
  for (var i = 0u; i < TR; i++) {
    m[i] = NEG;
    l[i] = 0.0;
  }
  for (var k = 0u; k < TR * DV4; k++) { o[k] = vec4<f32>(0.0); }

  let last = min(i0 + BR, L) - 1u;                 // last valid query row of the block
  let kend = pos0 + last + 1u;                     // keys the block can see: 0..kend-1
  let qfirst = pos0 + i0;                          // position of the block's first query
  let kvbase = h * params.maxLen * HD4;

  // K and V of a block pass through registers (pk, pv: element e = tid + t*WG of the block's BC*HD4 vec4s; K with
  // lanes along keys, V with lanes along dims). With PF the next block's loads are issued right after the barrier
  // that publishes the current one, so their latency hides behind this block's math.
  var pk: array<vec4<f32>, NPF>;
  var pv: array<vec4<f32>, NPF>;
  if (PF) { fetch_kv(&pk, &pv, tid, kvbase, 0u, kend); }

  for (var kb = 0u; kb < kend; kb += BC) {
    if (!PF) { fetch_kv(&pk, &pv, tid, kvbase, kb, kend); }
    // Stage K^T and V.
    for (var t = 0u; t < NPF; t++) {
      let e = tid + t * WG;
      if (e < BC * HD4) {
        let c = e % BC;
        let a = (e / BC) * 4u * BC4 + c / 4u;
        let cpt = c % 4u;
        let kx = pk[t];
        kp[a][cpt] = kx.x;
        kp[a + BC4][cpt] = kx.y;
        kp[a + 2u * BC4][cpt] = kx.z;
        kp[a + 3u * BC4][cpt] = kx.w;
        vs[e] = pv[t];
      }
    }
    workgroupBarrier();
    if (PF && kb + BC < kend) { fetch_kv(&pk, &pv, tid, kvbase, kb + BC, kend); }

    // S tile: s[i*TC4 + w] = scores of row row0+i against keys kb + 4*(w*NTX + tx) .. +3 (log2 units).
    var s: array<vec4<f32>, TR * TC4>;
    for (var e = 0u; e < TR * TC4; e++) { s[e] = vec4<f32>(0.0); }
    for (var d = 0u; d < HD; d++) {
      var b: array<vec4<f32>, TC4>;
      for (var w = 0u; w < TC4; w++) { b[w] = kp[d * BC4 + w * NTX + tx]; }
      for (var u = 0u; u < TR4; u++) {
        let a = qt[d * BR4 + ty * TR4 + u];
        for (var w = 0u; w < TC4; w++) {
          s[(4u * u) * TC4 + w] += a.x * b[w];
          s[(4u * u + 1u) * TC4 + w] += a.y * b[w];
          s[(4u * u + 2u) * TC4 + w] += a.z * b[w];
          s[(4u * u + 3u) * TC4 + w] += a.w * b[w];
        }
      }
    }
    // Causal mask, only in blocks that reach past the block's first query.
    if (kb + BC > qfirst + 1u) {
      for (var i = 0u; i < TR; i++) {
        let qpos = pos0 + min(i0 + row0 + i, L - 1u);
        for (var w = 0u; w < TC4; w++) {
          let key = vec4<u32>(kb + 4u * (w * NTX + tx)) + vec4<u32>(0u, 1u, 2u, 3u);
          s[i * TC4 + w] = select(s[i * TC4 + w], vec4<f32>(NEG), key > vec4<u32>(qpos));
        }
      }
    }
    var mp: array<f32, TR>;
    for (var i = 0u; i < TR; i++) {
      var mx = NEG;
      for (var w = 0u; w < TC4; w++) {
        let x = s[i * TC4 + w];
        mx = max(mx, max(max(x.x, x.y), max(x.z, x.w)));
      }
      mp[i] = mx;
      red_put(row0 + i, tx, mx);
    }
    workgroupBarrier();

    // Row max over the block, probabilities, running sums; P^T into kp (K is no longer read).
    var alpha: array<f32, TR>;
    for (var i = 0u; i < TR; i++) {
      let mx = max(m[i], red_max(row0 + i, tx, mp[i]));
      alpha[i] = exp2(m[i] - mx);
      m[i] = mx;
      var ls = 0.0;
      for (var w = 0u; w < TC4; w++) {
        let p = exp2(s[i * TC4 + w] - vec4<f32>(mx));
        ls += (p.x + p.y) + (p.z + p.w);
        s[i * TC4 + w] = p;
      }
      l[i] = l[i] * alpha[i] + ls;
    }
    // P^T: key c = 4*(w*NTX + tx) + j, rows ty*TR + 4u .. +3 as one vec4.
    for (var w = 0u; w < TC4; w++) {
      for (var u = 0u; u < TR4; u++) {
        let pa = (4u * (w * NTX + tx)) * BR4 + ty * TR4 + u;
        let s0 = s[(4u * u) * TC4 + w];
        let s1 = s[(4u * u + 1u) * TC4 + w];
        let s2 = s[(4u * u + 2u) * TC4 + w];
        let s3 = s[(4u * u + 3u) * TC4 + w];
        kp[pa] = vec4<f32>(s0.x, s1.x, s2.x, s3.x);
        kp[pa + BR4] = vec4<f32>(s0.y, s1.y, s2.y, s3.y);
        kp[pa + 2u * BR4] = vec4<f32>(s0.z, s1.z, s2.z, s3.z);
        kp[pa + 3u * BR4] = vec4<f32>(s0.w, s1.w, s2.w, s3.w);
      }
    }
    workgroupBarrier();

    // O tile: o = o * alpha + P V.
    for (var i = 0u; i < TR; i++) {
      for (var k = 0u; k < DV4; k++) { o[i * DV4 + k] *= alpha[i]; }
    }
    for (var c = 0u; c < BC; c++) {
      var b: array<vec4<f32>, DV4>;
      for (var k = 0u; k < DV4; k++) { b[k] = vs[c * HD4 + tx + NTX * k]; }
      for (var u = 0u; u < TR4; u++) {
        let a = kp[c * BR4 + ty * TR4 + u];
        for (var k = 0u; k < DV4; k++) {
          o[(4u * u) * DV4 + k] += a.x * b[k];
          o[(4u * u + 1u) * DV4 + k] += a.y * b[k];
          o[(4u * u + 2u) * DV4 + k] += a.z * b[k];
          o[(4u * u + 3u) * DV4 + k] += a.w * b[k];
        }
      }
    }
    workgroupBarrier();
  }

  // Row sums: reduce the per-thread partial sums over the NTX threads of each row.
  for (var i = 0u; i < TR; i++) { red_put(row0 + i, tx, l[i]); }
  workgroupBarrier();
  for (var i = 0u; i < TR; i++) {
    let lt = red_sum(row0 + i, tx, l[i]);
    let row = i0 + row0 + i;
    if (row < L) {
      let inv = 1.0 / lt;
      let obase = params.oOffset4 + row * params.oRowStride4 + h * HD4;
      for (var k = 0u; k < DV4; k++) { out[obase + tx + NTX * k] = o[i * DV4 + k] * inv; }
    }
  }
}
