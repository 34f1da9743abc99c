// flash_attention: causal attention with online softmax (FlashAttention-2 style), no L x L buffer.
// Layout (f32 elements, any head dim hd): q row (h, i) at qOffset + i*qRowStride + h*qHeadStride (e.g. [H, L, hd],
//   or in place in the fused qkv [L, H, 3, hd]) for queries at positions pos0..pos0+L-1; k_cache, v_cache
//   [H, maxLen, hd] (keys 0..pos0+L-1 valid); out row (i, h) at oOffset + i*oRowStride + h*hd (merged heads, e.g.
//   [L, H*hd]). The bindings and the loads/stores come from the IO snippet the wrapper picks
//   (include IO: flash_attention_io_vec4.wgsl when hd and the call's offsets/strides are multiples of 4, else
//   flash_attention_io_scalar.wgsl); the kernel works on HD4 = ceil(hd/4) vec4s per row, padded dims read as 0.
// Tiling: one workgroup per (block of BR queries, head). Each query row is owned by G threads; thread g of a row
//   holds the head-dim vec4s d4 = k*G + g (k < DPT4 = ceil(HD4/G)) of q (pre-scaled by 1/sqrt(hd)) and of the
//   output accumulator in registers, plus the row's running max m and sum l. Key blocks of BC rows of K and V are
//   staged in workgroup memory (row stride HD4P = G*DPT4 >= HD4, the padding zero); per block: partial dot products
//   -> sp [BC][BR][G], reduced over G (+ causal mask) in place, then the online-softmax update
//   o = o*exp(m-m') + sum_c exp(s_c-m') v_c. Key blocks past the block's last query are never visited (causal
//   skipping); only the diagonal blocks are masked element-wise.
// Sizes: HEAD_DIM, HD4, G, DPT4, BR, BC are consts the wrapper sets; workgroup storage is
//   (2*BC*HD4P*16 + BC*BR*G*4) bytes, chosen by the wrapper to fit maxComputeWorkgroupStorageSize.
//   Grid: (ceil(L/BR), H); workgroup x takes query block ceil(L/BR)-1-x.

#include "flash_attention_params.wgsl"
#include "flash_attention_io_{IO}.wgsl"

const WG: u32 = BR * G;
const HD4P: u32 = G * DPT4;

var<workgroup> ks: array<vec4<f32>, BC * HD4P>;
var<workgroup> vs: array<vec4<f32>, BC * HD4P>;
var<workgroup> sp: array<f32, BC * BR * G>;

const NEG: f32 = -3.0e38;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let L = params.L;
  let pos0 = params.pos0;
  let h = wg.y;
  // Heaviest (latest) query blocks first: causal work grows with the block index, so this shortens the tail.
  let i0 = (params.nqb - 1u - wg.x) * BR;
  let r = tid / G;
  let g = tid % G;
  let i = i0 + r;
  let valid = i < L;

  var qv: array<vec4<f32>, DPT4>;
  var o: array<vec4<f32>, DPT4>;
  let qbase = params.qOffset + min(i, L - 1u) * params.qRowStride + h * params.qHeadStride;
  for (var k = 0u; k < DPT4; k++) {
    let d4 = k * G + g;
    qv[k] = vec4<f32>(0.0);
    if (HD4P == HD4 || d4 < HD4) { qv[k] = ld_q(qbase, d4) * params.scale; }
    o[k] = vec4<f32>(0.0);
  }
  var m = NEG;
  var l = 0.0;

  let last_row = min(i0 + BR - 1u, L - 1u);
  let kend = pos0 + last_row + 1u;            // keys this block of queries can see: 0..kend-1
  let kvbase = h * params.maxLen * HEAD_DIM;

  for (var kb = 0u; kb < kend; kb += BC) {
    for (var e = tid; e < BC * HD4P; e += WG) {
      let j = kb + e / HD4P;
      let d4 = e % HD4P;
      var kx = vec4<f32>(0.0);
      var vx = vec4<f32>(0.0);
      if (j < kend && (HD4P == HD4 || d4 < HD4)) {
        let a = kvbase + j * HEAD_DIM;
        kx = ld_k(a, d4);
        vx = ld_v(a, d4);
      }
      ks[e] = kx;
      vs[e] = vx;
    }
    workgroupBarrier();

    // Partial scores over this thread's dims.
    for (var c = 0u; c < BC; c++) {
      var acc = 0.0;
      for (var k = 0u; k < DPT4; k++) { acc += dot(qv[k], ks[c * HD4P + k * G + g]); }
      sp[(c * BR + r) * G + g] = acc;
    }
    workgroupBarrier();

    // Reduce over the G threads of each row, apply the causal mask; result in sp[(c*BR + r)*G].
    for (var e = tid; e < BC * BR; e += WG) {
      let c = e / BR;
      let rr = e % BR;
      var sum = 0.0;
      for (var gg = 0u; gg < G; gg++) { sum += sp[e * G + gg]; }
      let qpos = pos0 + min(i0 + rr, L - 1u);
      if (kb + c > qpos) { sum = NEG; }
      sp[e * G] = sum;
    }
    workgroupBarrier();

    // Online softmax update.
    var mb = m;
    for (var c = 0u; c < BC; c++) { mb = max(mb, sp[(c * BR + r) * G]); }
    let alpha = exp(m - mb);
    l *= alpha;
    for (var k = 0u; k < DPT4; k++) { o[k] *= alpha; }
    for (var c = 0u; c < BC; c++) {
      let p = exp(sp[(c * BR + r) * G] - mb);
      l += p;
      for (var k = 0u; k < DPT4; k++) { o[k] += p * vs[c * HD4P + k * G + g]; }
    }
    m = mb;
    workgroupBarrier();
  }

  if (valid) {
    let inv = 1.0 / l;
    let obase = params.oOffset + i * params.oRowStride + h * HEAD_DIM;
    for (var k = 0u; k < DPT4; k++) {
      let d4 = k * G + g;
      if (HD4P == HD4 || d4 < HD4) { st_out(obase, d4, o[k] * inv); }
    }
  }
}
