// attention_row_probs (selectivity view, Transformer): the attention weights of ONE query (the token at position
// n − 1, i.e. the answer position) over the keys 0..n−1, averaged over heads:
//   out[outOff + j] = (1/H) · Σ_h softmax_j(q_h · k_{h,j} · scale),   j < n.
// Layout: q of head h at q[qOff + h·qHeadStride + d] (in place in the fused qkv row); kCache [H, maxLen, hd];
//   out[outOff + j], f32.
// Tiling: a single workgroup of 256 threads (this runs once per layer for one probe, not in the hot path). Per head:
//   pass 1, an online softmax (running max and sum per thread over keys j ≡ t mod 256, merged in workgroup memory);
//   pass 2, each thread adds its keys' weights. Thread t owns out[j] for j ≡ t, so the head loop needs no atomics.
// q · k is computed twice per key; for n = 32k and H = 12 that is 0.8 M dot products of hd.

struct Params {
  H: u32,
  hd: u32,
  n: u32,
  maxLen: u32,
  qOff: u32,
  qHeadStride: u32,
  outOff: u32,
  scale: f32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kCache: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> redM: array<f32, 256>;
var<workgroup> redS: array<f32, 256>;

fn score(h: u32, j: u32) -> f32 {
  let qb = params.qOff + h * params.qHeadStride;
  let kb = (h * params.maxLen + j) * params.hd;
  var s = 0.0;
  for (var d = 0u; d < params.hd; d++) { s += q[qb + d] * kCache[kb + d]; }
  return s * params.scale;
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  let t = lid.x;
  let n = params.n;
  let invH = 1.0 / f32(params.H);
  for (var j = t; j < n; j += 256u) { out[params.outOff + j] = 0.0; }
  for (var h = 0u; h < params.H; h++) {
    var m = -3.0e38;
    var s = 0.0;
    for (var j = t; j < n; j += 256u) {
      let x = score(h, j);
      let mNew = max(m, x);
      s = s * exp(m - mNew) + exp(x - mNew);
      m = mNew;
    }
    redM[t] = m;
    redS[t] = s;
    workgroupBarrier();
    for (var w = 128u; w > 0u; w >>= 1u) {
      if (t < w) {
        let m1 = redM[t];
        let m2 = redM[t + w];
        let mm = max(m1, m2);
        redS[t] = redS[t] * exp(m1 - mm) + redS[t + w] * exp(m2 - mm);
        redM[t] = mm;
      }
      workgroupBarrier();
    }
    let mh = redM[0];
    let inv = invH / redS[0];
    workgroupBarrier();
    for (var j = t; j < n; j += 256u) { out[params.outOff + j] += exp(score(h, j) - mh) * inv; }
  }
}
