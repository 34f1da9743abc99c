// copy_vec4: dst[i] = src[i] over vec4<f32> elements. The bandwidth reference every benchmark reports against
// (bytes read + bytes written per second). Layout: flat arrays of n4 vec4s. Tiling: one element per thread,
// 256 threads per workgroup, grid-stride over a 2-D grid so n4 can exceed 65535 * 256.

struct Params {
  n4: u32,        // number of vec4 elements
  stride: u32,    // total threads in the grid (grid-stride loop step)
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  var i = gid.x + gid.y * nwg.x * 256u;
  loop {
    if (i >= params.n4) { break; }
    dst[i] = src[i];
    i += params.stride;
  }
}
