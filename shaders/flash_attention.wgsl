// flash_attention: causal attention with online softmax (FlashAttention-2 style), no L x L buffer.
// Layout (all in vec4 units, hd % 4 == 0): q row (h, i) at qOffset4 + i*qRowStride4 + h*qHeadStride4 (e.g.
//   [H, L, hd], or in place in the fused qkv [L, H, 3, hd]) for queries at positions pos0..pos0+L-1;
//   k_cache, v_cache [H, maxLen, hd] (keys 0..pos0+L-1 valid); out row (i, h) at oOffset4 + i*oRowStride4 + h*HD4
//   (merged heads, e.g. [L, H*hd]).
// Tiling: one workgroup per (block of BR queries, head). Each query row is owned by G threads; thread g of a row
//   holds the head-dim vec4s d4 = k*G + g (k < DPT4) of q (pre-scaled by 1/sqrt(hd)) and of the output
//   accumulator in registers, plus the row's running max m and sum l. Key blocks of BC rows of K and V are staged
//   in workgroup memory; per block: partial dot products -> sp [BC][BR][G], reduced over G (+ causal mask) in place,
//   then the online-softmax update o = o*exp(m-m') + sum_c exp(s_c-m') v_c. Key blocks past the block's last query
//   are never visited (causal skipping); only the diagonal blocks are masked element-wise.
// Sizes: HD4, G, DPT4 = HD4/G, BR, BC are consts in the prelude the wrapper prepends; workgroup storage is
//   (2*BC*HD4*16 + BC*BR*G*4) bytes, chosen by the wrapper to fit maxComputeWorkgroupStorageSize.
//   Grid: (ceil(L/BR), H); workgroup x takes query block ceil(L/BR)-1-x.

const WG: u32 = BR * G;

struct Params {
  L: u32,
  pos0: u32,
  maxLen: u32,
  H: u32,
  scale: f32,
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

var<workgroup> ks: array<vec4<f32>, BC * HD4>;
var<workgroup> vs: array<vec4<f32>, BC * HD4>;
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
  let qbase = params.qOffset4 + min(i, L - 1u) * params.qRowStride4 + h * params.qHeadStride4;
  for (var k = 0u; k < DPT4; k++) {
    qv[k] = q[qbase + k * G + g] * params.scale;
    o[k] = vec4<f32>(0.0);
  }
  var m = NEG;
  var l = 0.0;

  let last_row = min(i0 + BR - 1u, L - 1u);
  let kend = pos0 + last_row + 1u;            // keys this block of queries can see: 0..kend-1
  let kvbase = h * params.maxLen * HD4;

  for (var kb = 0u; kb < kend; kb += BC) {
    for (var e = tid; e < BC * HD4; e += WG) {
      let j = kb + e / HD4;
      var kx = vec4<f32>(0.0);
      var vx = vec4<f32>(0.0);
      if (j < kend) {
        let a = kvbase + j * HD4 + e % HD4;
        kx = k_cache[a];
        vx = v_cache[a];
      }
      ks[e] = kx;
      vs[e] = vx;
    }
    workgroupBarrier();

    // Partial scores over this thread's dims.
    for (var c = 0u; c < BC; c++) {
      var acc = 0.0;
      for (var k = 0u; k < DPT4; k++) { acc += dot(qv[k], ks[c * HD4 + k * G + g]); }
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
      for (var k = 0u; k < DPT4; k++) { o[k] += p * vs[c * HD4 + k * G + g]; }
    }
    m = mb;
    workgroupBarrier();
  }

  if (valid) {
    let inv = 1.0 / l;
    let obase = params.oOffset4 + i * params.oRowStride4 + h * HD4;
    for (var k = 0u; k < DPT4; k++) { out[obase + k * G + g] = o[k] * inv; }
  }
}
