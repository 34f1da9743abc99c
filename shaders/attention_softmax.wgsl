// attention_softmax (reference attention, pass 2 of 3): causal row softmax of the scores, in place.
// Layout: s [H, L, Lk], row (h, i) holds query i (position pos0 + i); keys j <= pos0 + i are valid, the rest of the
//   row (never written by attention_scores) is set to 0 so attention_pv can sum over whole tiles.
// Tiling: one workgroup of 256 threads per row, tree reductions for max and sum in workgroup memory.
//   Grid: (L, H).

struct Params {
  L: u32,
  Lk: u32,
  pos0: u32,
  _pad: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> s: array<f32>;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let i = wg.x;
  let h = wg.y;
  let Lk = params.Lk;
  let n = params.pos0 + i + 1u;            // valid keys 0..n-1
  let base = (h * params.L + i) * Lk;
  let t = lid.x;

  var m = -3.0e38;
  for (var j = t; j < n; j += 256u) { m = max(m, s[base + j]); }
  red[t] = m;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w >>= 1u) {
    if (t < w) { red[t] = max(red[t], red[t + w]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();

  var sum = 0.0;
  for (var j = t; j < n; j += 256u) { sum += exp(s[base + j] - m); }
  red[t] = sum;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w >>= 1u) {
    if (t < w) { red[t] += red[t + w]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];

  for (var j = t; j < Lk; j += 256u) {
    var p = 0.0;
    if (j < n) { p = exp(s[base + j] - m) * inv; }
    s[base + j] = p;
  }
}
