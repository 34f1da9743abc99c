// flash_attention IO, vec4 form (included by flash_attention.wgsl / flash_attention_tiled.wgsl as IO = vec4):
// the storage bindings as arrays of vec4 and the loads/stores the kernels use. Selected when the head dim and every
// offset and stride of the call are multiples of 4, so a row's head-dim vec4 d4 is one aligned 16-byte access.
// Addresses are in f32 elements (base: the row's first element); HEAD_DIM (the real head dim) and HD4 come from
// consts the wrapper sets. Here HEAD_DIM == 4*HD4.

@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k_cache: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v_cache: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;

fn ld_q(base: u32, d4: u32) -> vec4<f32> { return q[(base >> 2u) + d4]; }
fn ld_k(base: u32, d4: u32) -> vec4<f32> { return k_cache[(base >> 2u) + d4]; }
fn ld_v(base: u32, d4: u32) -> vec4<f32> { return v_cache[(base >> 2u) + d4]; }
fn st_out(base: u32, d4: u32, v: vec4<f32>) { out[(base >> 2u) + d4] = v; }
