// attention_decode_out (GPT-NeoX decode, one token; includes decode_matvec_lib.wgsl): merges the split-K partials
// of attention_decode_rope_split per head (log-sum-exp) into the staged input of the attention output projection,
// then the projection with its bias and the residual add:
//   M_h = max_s m_{h,s};  att[h·HD + i] = Σ_s e^{m_{h,s} − M_h} acc_{h,s}[i] / Σ_s e^{m_{h,s} − M_h} l_{h,s}
//   x[n] += Σ_k W_dense[n, k] · att[k] (+ bias[n])
// Layout: part [H, nsplit, HD + 2] (acc, m, l) with nsplit = state[1]; W_dense [N, K = H·HD] (f32 or packed f16);
// dense bias [N] at BIAS_OFF in pack; x [N] the residual stream, updated in place.
// Tiling: decode_matvec_lib.wgsl; every workgroup merges all K attention outputs into workgroup memory (the merge
// is K · nsplit reads from L2, small next to the weight rows it then streams).

#include "decode_matvec_lib.wgsl"
#include "decode_matvec_red_{RED}.wgsl"

override N: u32 = 1u;
override H: u32 = 1u;
override HD: u32 = 1u;
override HAS_BIAS: bool = false;
override BIAS_OFF: u32 = 0u;

@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read> state: array<u32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> pack: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

var<workgroup> mh: array<f32, H>;
var<workgroup> lh: array<f32, H>;

fn wchunk(seg: u32, i: u32) -> vec4<u32> { return w[i]; }
fn xraw(k: u32) -> f32 { return xsGet(k); }
fn xglobal(k: u32) -> f32 { return xsGet(k); } // never used: the wrapper requires the staged path

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g * ROWS >= N) { return; } // whole workgroup
  let slot = t / LANES;
  let lane = t % LANES;
  let row = g * ROWS + slot;
  // this lane's first weight chunks and the row's bias, in flight while the merge prologue runs
  prefetch(0u, min(row, N - 1u), lane);
  var bias = 0.0;
  var xOld = 0.0;
  if (lane == 0u && row < N) {
    if (HAS_BIAS) { bias = pack[BIAS_OFF + row]; }
    xOld = x[row];
  }
  // The merge reads the partials from L2 four splits at a time (loads first, then the same sums in split order), so a
  // loop step waits on one batch of loads rather than on each load.
  let ns = state[1];
  let stride = HD + 2u;
  for (var h = t; h < H; h += WG) {
    let b0 = h * ns * stride + HD;
    var M = -0x1.fffffep+127f;
    var s = 0u;
    for (; s + 4u <= ns; s += 4u) {
      let m = vec4<f32>(part[b0 + s * stride], part[b0 + (s + 1u) * stride], part[b0 + (s + 2u) * stride], part[b0 + (s + 3u) * stride]);
      M = max(M, max(max(m.x, m.y), max(m.z, m.w)));
    }
    for (; s < ns; s++) { M = max(M, part[b0 + s * stride]); }
    var L = 0.0;
    s = 0u;
    for (; s + 4u <= ns; s += 4u) {
      let m = vec4<f32>(part[b0 + s * stride], part[b0 + (s + 1u) * stride], part[b0 + (s + 2u) * stride], part[b0 + (s + 3u) * stride]);
      let l = vec4<f32>(part[b0 + s * stride + 1u], part[b0 + (s + 1u) * stride + 1u], part[b0 + (s + 2u) * stride + 1u], part[b0 + (s + 3u) * stride + 1u]);
      L += exp(m.x - M) * l.x;
      L += exp(m.y - M) * l.y;
      L += exp(m.z - M) * l.z;
      L += exp(m.w - M) * l.w;
    }
    for (; s < ns; s++) {
      let b = b0 + s * stride;
      L += exp(part[b] - M) * part[b + 1u];
    }
    mh[h] = M;
    lh[h] = 1.0 / L;
  }
  workgroupBarrier();
  for (var k = t; k < K; k += WG) {
    let h = k / HD;
    let i = k - h * HD;
    let M = mh[h];
    let b0 = h * ns * stride;
    var a = 0.0;
    var s = 0u;
    for (; s + 4u <= ns; s += 4u) {
      let m = vec4<f32>(part[b0 + s * stride + HD], part[b0 + (s + 1u) * stride + HD], part[b0 + (s + 2u) * stride + HD], part[b0 + (s + 3u) * stride + HD]);
      let v = vec4<f32>(part[b0 + s * stride + i], part[b0 + (s + 1u) * stride + i], part[b0 + (s + 2u) * stride + i], part[b0 + (s + 3u) * stride + i]);
      a += exp(m.x - M) * v.x;
      a += exp(m.y - M) * v.y;
      a += exp(m.z - M) * v.z;
      a += exp(m.w - M) * v.w;
    }
    for (; s < ns; s++) {
      let b = b0 + s * stride;
      a += exp(part[b + HD] - M) * part[b + i];
    }
    xsSet(k, a * lh[h]);
  }
  workgroupBarrier();

  let acc = laneSum(t, laneDotPf(0u, min(row, N - 1u), lane));
  if (lane == 0u && row < N) {
    var v = acc;
    if (HAS_BIAS) { v += bias; }
    x[row] = xOld + v;
  }
}
