// selective_scan_chunk_combine: pass 2 of the fused chunked selective scan. One thread per (d, n) walks the chunks in
// order and turns St (chunk end states from zero, written by pass 1 for chunks 0..nChunks−2) in place into each
// chunk's incoming state: carry = h0; for c: in = carry; carry = exp(A[d,n]·ΣΔ_c[d])·carry + St[c]; St[c] = in.
// Slot nChunks−1 (not written by pass 1) receives the last chunk's incoming state. Cheap: nChunks·D·N work.
// Layouts: St [nChunks, D, N]; Dsum [nChunks, D]; w packed SSM params (A first, [D, N]); H0 [D, N].
// Tiling: 1-D, 256 threads per workgroup over D·N (coalesced per chunk row).

struct Params {
  D: u32, N: u32, nChunks: u32, hasInit: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> Dsum: array<f32>;
@group(0) @binding(3) var<storage, read> H0: array<f32>;
@group(0) @binding(4) var<storage, read_write> St: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let DN = params.D * params.N;
  let i = gid.x;
  if (i >= DN) { return; }
  let d = i / params.N;
  let a = W[i];
  var carry = 0.0;
  if (params.hasInit != 0u) { carry = H0[i]; }
  for (var c = 0u; c + 1u < params.nChunks; c++) {
    let k = c * DN + i;
    let end = St[k];
    St[k] = carry;
    carry = exp(a * Dsum[c * params.D + d]) * carry + end;
  }
  St[(params.nChunks - 1u) * DN + i] = carry;
}
