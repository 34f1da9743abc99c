// attention_scores (reference attention, pass 1 of 3): causal scores S = Q K^T / sqrt(hd), materialised.
// Layout: q element (h, i, d) at qOffset + i*qRowStride + h*qHeadStride + d (e.g. [H, L, hd], or in place in
//   the fused qkv [L, H, 3, hd]) for queries at positions pos0..pos0+L-1; k_cache [H, maxLen, hd]; s [H, L, Lk] with
//   Lk = pos0 + L. Only unmasked entries (key j <= pos0 + i) are written; attention_softmax zeroes the rest.
// Tiling: 32 queries x 32 keys per workgroup (16x16 threads, 2x2 outputs each, strided by 16), hd consumed in
//   steps of 16 through workgroup tiles; workgroups whose tile is entirely above the diagonal exit at once.
//   Grid: (ceil(Lk/32), ceil(L/32), H).

struct Params {
  L: u32,
  Lk: u32,
  hd: u32,
  maxLen: u32,
  pos0: u32,
  scale: f32,
  qOffset: u32,
  qRowStride: u32,
  qHeadStride: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> s: array<f32>;

var<workgroup> qs: array<f32, 512>;   // [32 rows][16 dims]
var<workgroup> ks: array<f32, 544>;   // [32 keys][17] (padded)

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let L = params.L;
  let Lk = params.Lk;
  let hd = params.hd;
  let h = wg.z;
  let i0 = wg.y * 32u;
  let j0 = wg.x * 32u;
  let last_row = min(i0 + 31u, L - 1u);
  if (j0 > params.pos0 + last_row) { return; }   // whole tile masked (uniform per workgroup)

  let tid = lid.y * 16u + lid.x;
  var acc: array<f32, 4>;
  for (var d0 = 0u; d0 < hd; d0 += 16u) {
    for (var e = tid; e < 512u; e += 256u) {
      let r = e / 16u;
      let c = e % 16u;
      let i = i0 + r;
      let j = j0 + r;
      let d = d0 + c;
      var qv = 0.0;
      if (i < L && d < hd) { qv = q[params.qOffset + i * params.qRowStride + h * params.qHeadStride + d]; }
      qs[r * 16u + c] = qv;
      var kv = 0.0;
      if (j < Lk && d < hd) { kv = k_cache[(h * params.maxLen + j) * hd + d]; }
      ks[r * 17u + c] = kv;
    }
    workgroupBarrier();
    for (var c = 0u; c < 16u; c++) {
      let q0 = qs[lid.y * 16u + c];
      let q1 = qs[(lid.y + 16u) * 16u + c];
      let k0 = ks[lid.x * 17u + c];
      let k1 = ks[(lid.x + 16u) * 17u + c];
      acc[0] += q0 * k0;
      acc[1] += q0 * k1;
      acc[2] += q1 * k0;
      acc[3] += q1 * k1;
    }
    workgroupBarrier();
  }
  for (var a = 0u; a < 2u; a++) {
    let i = i0 + lid.y + 16u * a;
    if (i >= L) { continue; }
    for (var b = 0u; b < 2u; b++) {
      let j = j0 + lid.x + 16u * b;
      if (j < Lk && j <= params.pos0 + i) {
        s[(h * L + i) * Lk + j] = acc[a * 2u + b] * params.scale;
      }
    }
  }
}
