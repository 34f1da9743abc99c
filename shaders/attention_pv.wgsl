// attention_pv (reference attention, pass 3 of 3): out = P V with merged heads.
// Layout: p [H, L, Lk] (softmaxed, zero above the diagonal); v_cache [H, maxLen, hd]; out element (i, h, d) at
//   outOffset + i*outRowStride + h*hd + d (merged heads, e.g. [L, H*hd]).
// Tiling: 32 queries x 32 head dims per workgroup (16x16 threads, 2x2 outputs each, strided by 16), keys consumed
//   in steps of 16 through workgroup tiles, stopping at the last key the tile's last query can see.
//   Grid: (ceil(hd/32), ceil(L/32), H).

struct Params {
  L: u32,
  Lk: u32,
  hd: u32,
  maxLen: u32,
  pos0: u32,
  H: u32,
  outOffset: u32,
  outRowStride: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> p: array<f32>;
@group(0) @binding(2) var<storage, read> v_cache: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> ps: array<f32, 544>;   // [32 rows][17] (padded)
var<workgroup> vs: array<f32, 512>;   // [16 keys][32 dims]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let L = params.L;
  let Lk = params.Lk;
  let hd = params.hd;
  let h = wg.z;
  let i0 = wg.y * 32u;
  let d0 = wg.x * 32u;
  let last_row = min(i0 + 31u, L - 1u);
  let kend = min(Lk, params.pos0 + last_row + 1u);
  let tid = lid.y * 16u + lid.x;
  var acc: array<f32, 4>;
  for (var j0 = 0u; j0 < kend; j0 += 16u) {
    for (var e = tid; e < 512u; e += 256u) {
      let r = e / 16u;      // P tile: row r, key c
      let c = e % 16u;
      let i = i0 + r;
      let j = j0 + c;
      var pv = 0.0;
      if (i < L && j < Lk) { pv = p[(h * L + i) * Lk + j]; }
      ps[r * 17u + c] = pv;
      let kr = e / 32u;     // V tile: key kr, dim dc
      let dc = e % 32u;
      let jj = j0 + kr;
      let d = d0 + dc;
      var vv = 0.0;
      if (jj < Lk && d < hd) { vv = v_cache[(h * params.maxLen + jj) * hd + d]; }
      vs[kr * 32u + dc] = vv;
    }
    workgroupBarrier();
    for (var c = 0u; c < 16u; c++) {
      let p0 = ps[lid.y * 17u + c];
      let p1 = ps[(lid.y + 16u) * 17u + c];
      let v0 = vs[c * 32u + lid.x];
      let v1 = vs[c * 32u + lid.x + 16u];
      acc[0] += p0 * v0;
      acc[1] += p0 * v1;
      acc[2] += p1 * v0;
      acc[3] += p1 * v1;
    }
    workgroupBarrier();
  }
  for (var a = 0u; a < 2u; a++) {
    let i = i0 + lid.y + 16u * a;
    if (i >= L) { continue; }
    for (var b = 0u; b < 2u; b++) {
      let d = d0 + lid.x + 16u * b;
      if (d < hd) { out[params.outOffset + i * params.outRowStride + h * hd + d] = acc[a * 2u + b]; }
    }
  }
}
