// ssd_state_pass: pass 2 of Mamba-2's chunked SSD prefill (state passing between chunks). One thread per state
// element i = (h, p, n) walks the chunks in order and turns E (chunk end states from zero, pass 1) in place into each
// chunk's incoming state, then writes the final state:
//   carry = h0;  for c: in = carry; carry = exp(Csum[c, h]) · carry + E[c]; E[c] = in;   Hout = carry
// Layouts: E [nChunks, H·P·N]; Csum [nChunks, H] (each chunk's total log decay); H0, Hout [H, P, N].
// initMode 0: h0 = 0, 1: from H0, 2: from Hout (in place: the final state overwrites the initial one).
// Tiling: 1-D, 256 threads per workgroup over H·P·N (coalesced per chunk row); chunks in batches of CB whose loads
// are issued together before the dependent updates (as selective_scan_chunk_combine).

struct Params {
  total: u32, PN: u32, heads: u32, nChunks: u32,
  initMode: u32, _p0: u32, _p1: u32, _p2: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> Csum: array<f32>;
@group(0) @binding(2) var<storage, read> H0: array<f32>;
@group(0) @binding(3) var<storage, read_write> E: array<f32>;
@group(0) @binding(4) var<storage, read_write> Hout: array<f32>;

const CB: u32 = 8u;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  let total = params.total;
  if (i >= total) { return; }
  let h = i / params.PN;
  var carry = 0.0;
  if (params.initMode == 1u) { carry = H0[i]; } else if (params.initMode == 2u) { carry = Hout[i]; }
  let nc = params.nChunks;
  for (var c0 = 0u; c0 < nc; c0 += CB) {
    var ends: array<f32, CB>;
    var decay: array<f32, CB>;
    for (var k = 0u; k < CB; k++) {
      let c = min(c0 + k, nc - 1u);
      ends[k] = E[c * total + i];
      decay[k] = exp(Csum[c * params.heads + h]);
    }
    for (var k = 0u; k < CB; k++) {
      if (c0 + k < nc) {
        E[(c0 + k) * total + i] = carry;
        carry = decay[k] * carry + ends[k];
      }
    }
  }
  Hout[i] = carry;
}
