// selective_scan_chunk_state: pass 1 of the fused chunked selective scan. For every chunk but the last, each thread
// runs the recurrence h = exp(Δ·A) ⊙ h + (Δ·u)·B over its chunk's tokens for one channel d, starting from zero state,
// and writes only the chunk's end state St[c, d, :] and ΣΔ over the chunk Dsum[c, d] (the chunk's decay is
// exp(A[d,n]·ΣΔ), applied in pass 2). No per-token output, no C/z reads.
// Layouts: u, delta [L, D] token-major views (offset, row stride); B [L, N] view inside `bc`; w packed SSM params
// [A (D·N) | Dskip (D) | deltaBias (D)]; St [nChunks, D, N]; Dsum [nChunks, D].
// Tiling: as selective_scan_chunk_out: workgroup = WG consecutive channels of one chunk (grid y = chunk), N states
// per thread in registers (NV vec4s); per tile of TT tokens, B (vec4s) and each channel's Δ and Δ·u are staged in
// workgroup memory first (TT·(2·WG·4 + NV·16) bytes), then the recurrence reads only workgroup memory. Loads are
// software-pipelined as in chunk_out: the next tile's raw values are loaded into registers, unconditionally with
// clamped indices, before the current tile is computed. Consts: NS, NV, TT, WG, BPT = ceil(TT·NV·4 / WG).

#include "ssm_lib.wgsl"
#include "scan_chunk_lib.wgsl"

struct Params {
  L: u32, D: u32, chunk: u32, nChunks: u32,
  uOff: u32, uStride: u32, dOff: u32, dStride: u32,
  bOff: u32, bcStride: u32, _p0: u32, _p1: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read> Delta: array<f32>;
@group(0) @binding(3) var<storage, read> BC: array<f32>;
@group(0) @binding(4) var<storage, read> W: array<f32>;
@group(0) @binding(5) var<storage, read_write> St: array<f32>;
@group(0) @binding(6) var<storage, read_write> Dsum: array<f32>;

var<workgroup> bs: array<vec4<f32>, TT * NV>;
var<workgroup> sdt: array<f32, TT * WG>;
var<workgroup> sdu: array<f32, TT * WG>;

struct TileRegs {
  d: array<f32, TT>,
  u: array<f32, TT>,
  b: array<f32, BPT>,
};

fn loadTile(tt: u32, dd: u32, lid: u32) -> TileRegs {
  var r: TileRegs;
  let last = params.L - 1u;
  for (var j = 0u; j < TT; j++) {
    let t = min(tt + j, last);
    r.d[j] = Delta[params.dOff + t * params.dStride + dd];
    r.u[j] = U[params.uOff + t * params.uStride + dd];
  }
  for (var k = 0u; k < BPT; k++) {
    let idx = lid + k * WG;
    let t = min(tt + idx / (NV * 4u), last);
    r.b[k] = BC[params.bOff + t * params.bcStride + min(idx % (NV * 4u), NS - 1u)];
  }
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let D = params.D;
  let ch = channelOf(wid, lid.x);
  let ck = chunkOf(wid);

  var a = loadA(ch.dd);
  var h: array<vec4<f32>, NV>;   // zero state
  let bias = W[D * NS + D + ch.dd];
  var dsum = 0.0;

  var regs = loadTile(ck.t0, ch.dd, lid.x);
  for (var tt = ck.t0; tt < ck.t1; tt += TT) {
    let cnt = min(TT, ck.t1 - tt);
    workgroupBarrier();
    for (var k = 0u; k < BPT; k++) {
      let idx = lid.x + k * WG;
      if (idx < TT * NV * 4u) {
        bs[idx / 4u][idx % 4u] = select(0.0, regs.b[k], idx / (NV * 4u) < cnt && idx % (NV * 4u) < NS);
      }
    }
    for (var j = 0u; j < TT; j++) {
      let dt = softplus(regs.d[j] + bias);
      sdt[j * WG + lid.x] = dt;
      sdu[j * WG + lid.x] = dt * regs.u[j];
    }
    regs = loadTile(tt + TT, ch.dd, lid.x);
    workgroupBarrier();
    for (var j = 0u; j < TT; j++) {
      if (j < cnt) {
        let dt = sdt[j * WG + lid.x];
        let du = sdu[j * WG + lid.x];
        dsum += dt;
        for (var v = 0u; v < NV; v++) {
          h[v] = exp(dt * a[v]) * h[v] + du * bs[j * NV + v];
        }
      }
    }
  }

  if (ch.live) {
    let base = ck.c * D * NS + ch.d * NS;
    for (var v = 0u; v < NV; v++) {
      for (var i = 0u; i < 4u; i++) {
        let n = v * 4u + i;
        if (n < NS) { St[base + n] = h[v][i]; }
      }
    }
    Dsum[ck.c * D + ch.d] = dsum;
  }
}
