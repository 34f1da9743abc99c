// scan_out_io: Params and bindings of the fused scan kernels that write y and h_L (selective_scan_chunk_out, and the
// lab's selective_scan_chunk_local and selective_scan_onepass, which ignore chunk / nChunks). Not a kernel: they
// `#include` it. Layouts: u, delta, z, y [L, D] token-major views (element offset, row stride); B and C [L, N] views
// inside one buffer BC (the x_proj output); W the packed SSM params [A (D·N) | Dskip (D) | deltaBias (D)]; Hin the
// incoming state(s); Hout [D, N] the final state.

struct Params {
  L: u32, D: u32, chunk: u32, nChunks: u32,
  uOff: u32, uStride: u32, dOff: u32, dStride: u32,
  zOff: u32, zStride: u32, bOff: u32, cOff: u32,
  bcStride: u32, yOff: u32, yStride: u32,
  flags: u32,   // bit 0: gate with SiLU(z); bits 1..2 initial state: 0 zeros, 1 from Hin, 2 from Hout (in place)
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read> Delta: array<f32>;
@group(0) @binding(3) var<storage, read> Z: array<f32>;
@group(0) @binding(4) var<storage, read> BC: array<f32>;
@group(0) @binding(5) var<storage, read> W: array<f32>;
@group(0) @binding(6) var<storage, read> Hin: array<f32>;
@group(0) @binding(7) var<storage, read_write> Y: array<f32>;
@group(0) @binding(8) var<storage, read_write> Hout: array<f32>;
