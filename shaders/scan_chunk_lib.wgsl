// scan_chunk_lib: what the chunk kernels of the fused selective scan share (selective_scan_chunk_state, _out): the
// channel and chunk a thread works on and its row of A. Not a kernel: they `#include` it. Needs their Params (L, D,
// chunk), the packed SSM params W [A (D·N) | Dskip (D) | deltaBias (D)] and the consts NS, NV, WG.

// Channel d = wid.x·WG + lid of a thread (live when d < D; dd is d clamped into range, so loads need no guard).
struct Channel {
  d: u32,
  dd: u32,
  live: bool,
};

fn channelOf(wid: vec3<u32>, lid: u32) -> Channel {
  let d = wid.x * WG + lid;
  return Channel(d, min(d, params.D - 1u), d < params.D);
}

// Chunk c = wid.y of a workgroup: tokens [t0, t1). Kept apart from Channel: it is uniform per workgroup (the tile
// loops around the barriers run over it).
struct Chunk {
  c: u32,
  t0: u32,
  t1: u32,
};

fn chunkOf(wid: vec3<u32>) -> Chunk {
  let t0 = wid.y * params.chunk;
  return Chunk(wid.y, t0, min(t0 + params.chunk, params.L));
}

// Row dd of A as NV vec4s (the padded state lanes n ≥ NS are 0).
fn loadA(dd: u32) -> array<vec4<f32>, NV> {
  var a: array<vec4<f32>, NV>;
  for (var v = 0u; v < NV; v++) {
    for (var i = 0u; i < 4u; i++) {
      let n = v * 4u + i;
      if (n < NS) { a[v][i] = W[dd * NS + n]; }
    }
  }
  return a;
}
