// bench_fill_random: bench input generation on the GPU (no multi-GB uploads from the CPU). out[i] = offset + scale·g
// with g ≈ standard normal (sum of four hashed uniforms, centred and scaled to unit variance), deterministic in
// (seed, i). Layout: flat array of n floats. Tiling: 256 threads per workgroup, 2-D grid for large n (row of the grid
// = num_workgroups.x·256 threads), grid-stride loop with params.stride = all threads of the grid.

struct Params {
  n: u32, seed: u32, stride: u32, _p0: u32,
  scale: f32, offset: f32, _p1: f32, _p2: f32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;

fn pcg(x: u32) -> u32 {
  let s = x * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let seed = pcg(params.seed);
  for (var i = gid.x + gid.y * nwg.x * 256u; i < params.n; i += params.stride) {
    var h = pcg(i ^ seed);
    var sum = 0.0;
    for (var k = 0u; k < 4u; k++) {
      h = pcg(h + k);
      sum += f32(h >> 8u) * (1.0 / 16777216.0);
    }
    Out[i] = params.offset + params.scale * (sum - 2.0) * 1.7320508;
  }
}
