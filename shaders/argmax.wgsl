// argmax: out[outIndex + w] = argmax_i logits[off + w·stride + i], i < V, for each row w (one workgroup per row;
// decode uses one row and writes the token into the token-history buffer at its position). Ties go to the lowest
// index; NaN and −inf count as −FLT_MAX. Tiling: WG threads stride over the row (8 loads in flight each) keeping
// (value, index), then a tree reduction in workgroup memory.

override WG: u32 = 256u;

struct Params {
  V: u32,
  off: u32,
  stride: u32,
  outIndex: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

var<workgroup> bv: array<f32, WG>;
var<workgroup> bi: array<u32, WG>;


// −FLT_MAX stands for −inf (and NaN), so no infinities are needed at runtime.
const LOWEST: f32 = -0x1.fffffep+127f;

fn clean(v: f32) -> f32 {
  return select(max(v, LOWEST), LOWEST, v != v);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let base = params.off + wid.x * params.stride;
  let V = params.V;
  var best = LOWEST;
  var idx = 0xffffffffu;
  // Eight independent loads in flight per thread (the loop is latency-bound otherwise), in index order.
  var i = t;
  for (; i + 7u * WG < V; i += 8u * WG) {
    var vs: array<f32, 8>;
    for (var j = 0u; j < 8u; j++) { vs[j] = logits[base + i + j * WG]; }
    for (var j = 0u; j < 8u; j++) {
      let v = clean(vs[j]);
      if (v > best || idx == 0xffffffffu) { best = v; idx = i + j * WG; }
    }
  }
  for (; i < V; i += WG) {
    let v = clean(logits[base + i]);
    if (v > best || idx == 0xffffffffu) { best = v; idx = i; }
  }
  bv[t] = best;
  bi[t] = idx;
  workgroupBarrier();
  for (var s = WG >> 1u; s > 0u; s >>= 1u) {
    if (t < s) {
      let v2 = bv[t + s];
      let i2 = bi[t + s];
      if (i2 != 0xffffffffu && (bi[t] == 0xffffffffu || v2 > bv[t] || (v2 == bv[t] && i2 < bi[t]))) {
        bv[t] = v2;
        bi[t] = i2;
      }
    }
    workgroupBarrier();
  }
  if (t == 0u) { out[params.outIndex + wid.x] = bi[0]; }
}
