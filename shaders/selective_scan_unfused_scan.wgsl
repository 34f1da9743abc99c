// selective_scan_unfused_scan: baseline pass 2 of the unfused selective scan. One thread per (d, n) walks the Ls
// tokens of the segment: h = dA[tl]·h + dBu[tl], and overwrites dBu[tl] with h (the expanded states, [Ls, D, N], read
// by the readout pass). The state enters from zeros, from Hinit, or from Hout itself (segment continuation / in-place
// initial state), and leaves in Hout [D, N]. Tiling: 1-D, 256 threads per workgroup over D·N (coalesced per token).

struct Params {
  Ls: u32, DN: u32, initMode: u32, _p0: u32,   // initMode: 0 zeros, 1 from Hinit, 2 from Hout
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> DA: array<f32>;
@group(0) @binding(2) var<storage, read_write> DBU: array<f32>;
@group(0) @binding(3) var<storage, read> Hinit: array<f32>;
@group(0) @binding(4) var<storage, read_write> Hout: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.DN) { return; }
  var h = 0.0;
  if (params.initMode == 1u) { h = Hinit[i]; } else if (params.initMode == 2u) { h = Hout[i]; }
  for (var tl = 0u; tl < params.Ls; tl++) {
    let k = tl * params.DN + i;
    h = DA[k] * h + DBU[k];
    DBU[k] = h;
  }
  Hout[i] = h;
}
