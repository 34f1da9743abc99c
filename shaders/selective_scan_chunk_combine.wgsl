// selective_scan_chunk_combine: pass 2 of the fused chunked selective scan. One thread per (d, n) walks the chunks in
// order and turns St (chunk end states from zero, written by pass 1 for chunks 0..nChunks−2) in place into each
// chunk's incoming state: carry = h0; for c: in = carry; carry = exp(A[d,n]·ΣΔ_c[d])·carry + St[c]; St[c] = in.
// Slot nChunks−1 (not written by pass 1) receives the last chunk's incoming state. Cheap: nChunks·D·N work.
// Layouts: St [nChunks, D, N]; Dsum [nChunks, D]; w packed SSM params (A first, [D, N]); H0 [D, N].
// Tiling: 1-D, 256 threads per workgroup over D·N (coalesced per chunk row). The chunks go in batches of CB: the
// batch's end states and ΣΔ are loaded first (independent loads in flight together), then combined in order, so the
// walk waits on memory once per batch instead of once per chunk (the in-place stores would otherwise keep the
// compiler from hoisting the next chunk's load).

struct Params {
  D: u32, N: u32, nChunks: u32, hasInit: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> Dsum: array<f32>;
@group(0) @binding(3) var<storage, read> H0: array<f32>;
@group(0) @binding(4) var<storage, read_write> St: array<f32>;

const CB: u32 = 8u;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let DN = params.D * params.N;
  let i = gid.x;
  if (i >= DN) { return; }
  let d = i / params.N;
  let a = W[i];
  var carry = 0.0;
  if (params.hasInit != 0u) { carry = H0[i]; }
  let nEnd = params.nChunks - 1u;   // chunks with an end state from pass 1
  for (var c0 = 0u; c0 < nEnd; c0 += CB) {
    var ends: array<f32, CB>;
    var decay: array<f32, CB>;
    for (var k = 0u; k < CB; k++) {
      let c = min(c0 + k, nEnd - 1u);
      ends[k] = St[c * DN + i];
      decay[k] = exp(a * Dsum[c * params.D + d]);
    }
    for (var k = 0u; k < CB; k++) {
      if (c0 + k < nEnd) {
        St[(c0 + k) * DN + i] = carry;
        carry = decay[k] * carry + ends[k];
      }
    }
  }
  St[nEnd * DN + i] = carry;
}
