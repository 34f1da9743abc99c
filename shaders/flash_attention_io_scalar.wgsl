// flash_attention IO, scalar form (included by flash_attention.wgsl / flash_attention_tiled.wgsl as IO = scalar):
// the storage bindings as arrays of f32, for head dims that are not a multiple of 4 (e.g. 10) or calls whose
// offsets / strides are not. The kernels still work on vec4s of the head dim, zero-padded to HD4 = ceil(HEAD_DIM/4):
// ld_* gathers the 4 elements of vec4 d4 of a row and returns 0 for the dims >= HEAD_DIM (so padded dims add
// nothing to q.k and leave padded output dims at 0); st_out writes only the dims < HEAD_DIM.
// Addresses are in f32 elements (base: the row's first element); HEAD_DIM and HD4 are consts the wrapper sets.

@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read> v_cache: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// Elements of vec4 d4 that exist: 4, or HEAD_DIM % 4 in the last one.
fn io_n(d4: u32) -> u32 { return min(HEAD_DIM - min(4u * d4, HEAD_DIM), 4u); }

fn ld_q(base: u32, d4: u32) -> vec4<f32> {
  let e = base + 4u * d4;
  let n = io_n(d4);
  if (n == 4u) { return vec4<f32>(q[e], q[e + 1u], q[e + 2u], q[e + 3u]); }
  var v = vec4<f32>(0.0);
  if (n > 0u) { v.x = q[e]; }
  if (n > 1u) { v.y = q[e + 1u]; }
  if (n > 2u) { v.z = q[e + 2u]; }
  return v;
}

fn ld_k(base: u32, d4: u32) -> vec4<f32> {
  let e = base + 4u * d4;
  let n = io_n(d4);
  if (n == 4u) { return vec4<f32>(k_cache[e], k_cache[e + 1u], k_cache[e + 2u], k_cache[e + 3u]); }
  var v = vec4<f32>(0.0);
  if (n > 0u) { v.x = k_cache[e]; }
  if (n > 1u) { v.y = k_cache[e + 1u]; }
  if (n > 2u) { v.z = k_cache[e + 2u]; }
  return v;
}

fn ld_v(base: u32, d4: u32) -> vec4<f32> {
  let e = base + 4u * d4;
  let n = io_n(d4);
  if (n == 4u) { return vec4<f32>(v_cache[e], v_cache[e + 1u], v_cache[e + 2u], v_cache[e + 3u]); }
  var v = vec4<f32>(0.0);
  if (n > 0u) { v.x = v_cache[e]; }
  if (n > 1u) { v.y = v_cache[e + 1u]; }
  if (n > 2u) { v.z = v_cache[e + 2u]; }
  return v;
}

fn st_out(base: u32, d4: u32, v: vec4<f32>) {
  let e = base + 4u * d4;
  let n = io_n(d4);
  if (n > 0u) { out[e] = v.x; }
  if (n > 1u) { out[e + 1u] = v.y; }
  if (n > 2u) { out[e + 2u] = v.z; }
  if (n > 3u) { out[e + 3u] = v.w; }
}
