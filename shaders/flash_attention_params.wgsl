// flash_attention Params: the uniforms of both flash kernels (flash_attention.wgsl, flash_attention_tiled.wgsl), which
// `#include` them. Bindings 1-4 (q, k_cache, v_cache, out) come with the IO snippet.

struct Params {
  L: u32,
  pos0: u32,
  maxLen: u32,
  H: u32,
  scale: f32,        // 1/sqrt(hd); the tiled kernel's is log2(e)/sqrt(hd) (it computes exp2)
  qOffset: u32,      // f32 elements
  qRowStride: u32,
  qHeadStride: u32,
  oOffset: u32,
  oRowStride: u32,
  nqb: u32,          // ceil(L / BR), the grid's x size
};

@group(0) @binding(0) var<uniform> params: Params;
