// selective_scan_chunk_local (kernel lab, src/bench/lab/scan-lab.ts: slower than the three passes on every GPU
// measured): the fused chunked selective scan for short sequences in ONE dispatch (Mamba v1,
// delta_softplus=True). The three passes of the chunked form (chunk_state, chunk_combine, chunk_out) run inside one
// workgroup that owns CW consecutive channels and ALL chunks of the sequence (nChunks ≤ NCH), so no chunk state goes
// through global memory and no dependent dispatch is needed (each costs ~3 us on Dawn/Vulkan: at L = 512 the three
// passes were mostly fixed costs). Thread (c, ch) = lid / CW, lid % CW owns chunk c of channel d = wid.x·CW + ch:
//   1. walks its chunk from zero state: h = exp(Δ·A) ⊙ h + (Δ·u)·B, ΣΔ (end state S_c, ΣΔ_c in registers);
//   2. Hillis–Steele scan over the chunks in workgroup memory of the pairs (ΣΔ, S) with
//      (P1, S1) ∘ (P2, S2) = (P1 + P2, exp(A·P2) ⊙ S1 + S2), log2(NCH) rounds; chunk c's incoming state is then
//      E_{c−1} + exp(A·P_{c−1})·h0 (inclusive results of chunk c−1; h0 for chunk 0);
//   3. walks its chunk again from the incoming state with the readout y = (C·h + D·u)·SiLU(z); the last chunk writes
//      h_L [D, N].
// Layouts as selective_scan_chunk_out: u, delta, z, y [L, D] token-major views (offset, row stride); B, C [L, N]
// views inside one buffer `bc`; w packed SSM params [A (D·N) | Dskip (D) | deltaBias (D)]; Hin [D, N] initial state.
// Tiling: per tile of TT tokens of every chunk, the workgroup stages the B (walk 1) or B and C (walk 3) rows of all
// NCH chunks in workgroup memory (vec4s, shared by the CW channels of a chunk; loads coalesced along the rows); each
// thread's own Δ, u, z stay in registers. Loads are software-pipelined as in chunk_out: the next tile's raw values
// are loaded (unconditionally, clamped indices) before the current tile is computed; walk 3's first tile is loaded
// before the scan. Workgroup memory: the tile buffer is reused for the scan's states (max(TT·NCH·2·NV, NCH·CW·NV)
// vec4s) + NCH·CW floats for ΣΔ. Consts: NS, NV = ceil(NS/4), CW, NCH (power of 2), TT, WGS = CW·NCH,
// BPT = ceil(TT·NCH·NV·4 / WGS), BCPT = 2·BPT, SMV (vec4s of the shared buffer). Padded state lanes have
// A = B = C = 0 and stay zero; chunks c ≥ nChunks and channels d ≥ D only take part in the barriers.

#include "ssm_lib.wgsl"
#include "scan_out_io.wgsl"

// Walks 1 and 3: B (and C) rows of the current tile of every chunk, index ((c·TT + j)·2 + s)·NV + v (s = 0: B, 1: C).
// Scan: the states (index lid·NV + v). One buffer for both (they are never live together).
var<workgroup> sm: array<vec4<f32>, SMV>;
var<workgroup> sp: array<f32, WGS>;

fn decay(x: vec4<f32>) -> vec4<f32> {
  return exp(x);
}

// This thread's raw loads for one tile: its channel's delta, u, z at TT tokens of its chunk and BCPT elements of the
// B, C rows of all chunks (walk 1 uses the first BPT: B only).
struct TileRegs {
  d: array<f32, TT>,
  u: array<f32, TT>,
  z: array<f32, TT>,
  bc: array<f32, BCPT>,
};

// Element k of this thread's share of the staged rows: (chunk, token in tile, B/C, state index) of the flat index.
struct RowElem { c: u32, j: u32, s: u32, n: u32 };

fn rowElem(idx: u32, rows: u32) -> RowElem {
  let nv4 = NV * 4u;
  var e: RowElem;
  e.n = idx % nv4;
  e.s = (idx / nv4) % rows;
  e.j = (idx / (nv4 * rows)) % TT;
  e.c = idx / (nv4 * rows * TT);
  return e;
}

// Issues the loads of tile k (tokens c·chunk + k·TT + j): token and state indices clamped into range, so every load
// is unconditional; out-of-range values are masked when staged. rows = 1: B only (walk 1), 2: B and C (walk 3).
fn loadTile(k: u32, c: u32, dd: u32, lid: u32, hasZ: bool, rows: u32) -> TileRegs {
  var r: TileRegs;
  let last = params.L - 1u;
  let tt = c * params.chunk + k * TT;
  for (var j = 0u; j < TT; j++) {
    let t = min(tt + j, last);
    r.d[j] = Delta[params.dOff + t * params.dStride + dd];
    r.u[j] = U[params.uOff + t * params.uStride + dd];
    if (rows == 2u) { r.z[j] = Z[select(0u, params.zOff + t * params.zStride + dd, hasZ)]; }
  }
  // Constant trip count (static register indices once unrolled); walk 1 uses the first BPT.
  for (var m = 0u; m < BCPT; m++) {
    if (m < BPT * rows) {
      let e = rowElem(lid + m * WGS, rows);
      let t = min(e.c * params.chunk + k * TT + e.j, last);
      r.bc[m] = BC[select(params.bOff, params.cOff, e.s == 1u) + t * params.bcStride + min(e.n, NS - 1u)];
    }
  }
  return r;
}

// Stages this thread's share of tile k's B (and C) rows into sm (zero where past a chunk's end, L or NS).
fn stageRows(r: TileRegs, k: u32, lid: u32, rows: u32) {
  for (var m = 0u; m < BCPT; m++) {
    let idx = lid + m * WGS;
    if (m < BPT * rows && idx < NCH * TT * rows * NV * 4u) {
      let e = rowElem(idx, rows);
      let inChunk = k * TT + e.j;
      let ok = inChunk < params.chunk && e.c * params.chunk + inChunk < params.L && e.n < NS;
      sm[((e.c * TT + e.j) * 2u + e.s) * NV + e.n / 4u][e.n % 4u] = select(0.0, r.bc[m], ok);
    }
  }
}

@compute @workgroup_size(WGS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let D = params.D;
  let ch = lid % CW;
  let c = lid / CW;
  let d = wid.x * CW + ch;
  let live = d < D;
  let dd = min(d, D - 1u);
  let t0 = c * params.chunk;
  let t1 = min(t0 + params.chunk, params.L);
  // Tokens of this chunk in tile k: clamp(t1 − (t0 + k·TT), 0, TT).
  let hasZ = (params.flags & 1u) != 0u;
  let initMode = (params.flags >> 1u) & 3u;
  let nTiles = (params.chunk + TT - 1u) / TT;

  var a: array<vec4<f32>, NV>;
  var h: array<vec4<f32>, NV>;
  for (var v = 0u; v < NV; v++) {
    var av = vec4<f32>(0.0);
    for (var i = 0u; i < 4u; i++) {
      let n = v * 4u + i;
      if (n < NS) { av[i] = W[dd * NS + n]; }
    }
    a[v] = av;
    h[v] = vec4<f32>(0.0);
  }
  let dskip = W[D * NS + dd];
  let bias = W[D * NS + D + dd];

  // 1. This chunk from zero state: end state S_c and ΣΔ_c.
  var dsum = 0.0;
  var regs = loadTile(0u, c, dd, lid, hasZ, 1u);
  for (var k = 0u; k < nTiles; k++) {
    let tt = t0 + k * TT;
    let cnt = select(0u, min(TT, t1 - tt), tt < t1);
    workgroupBarrier();
    stageRows(regs, k, lid, 1u);
    var dt: array<f32, TT>;
    var du: array<f32, TT>;
    for (var j = 0u; j < TT; j++) {
      dt[j] = softplus(regs.d[j] + bias);
      du[j] = dt[j] * regs.u[j];
    }
    regs = loadTile(k + 1u, c, dd, lid, hasZ, 1u);
    workgroupBarrier();
    for (var j = 0u; j < TT; j++) {
      if (j < cnt) {
        dsum += dt[j];
        for (var v = 0u; v < NV; v++) {
          h[v] = decay(dt[j] * a[v]) * h[v] + du[j] * sm[((c * TT + j) * 2u) * NV + v];
        }
      }
    }
  }
  // Walk 3's first tile, in flight during the scan.
  regs = loadTile(0u, c, dd, lid, hasZ, 2u);

  // 2. Inclusive scan of (ΣΔ, S) over the chunks (same channel: stride CW in lid).
  workgroupBarrier();
  for (var v = 0u; v < NV; v++) { sm[lid * NV + v] = h[v]; }
  sp[lid] = dsum;
  workgroupBarrier();
  for (var off = 1u; off < NCH; off <<= 1u) {
    let act = c >= off;
    let p = select(lid, lid - off * CW, act);
    let pd = sp[p];
    for (var v = 0u; v < NV; v++) {
      let sv = sm[p * NV + v];
      if (act) { h[v] = decay(dsum * a[v]) * sv + h[v]; }
    }
    if (act) { dsum += pd; }
    workgroupBarrier();
    if (act) {
      for (var v = 0u; v < NV; v++) { sm[lid * NV + v] = h[v]; }
      sp[lid] = dsum;
    }
    workgroupBarrier();
  }
  // Incoming state of chunk c: E_{c−1} + exp(A·P_{c−1})·h0 (h0 alone for chunk 0).
  let q = select(lid, lid - CW, c > 0u);
  let pq = select(0.0, sp[q], c > 0u);
  for (var v = 0u; v < NV; v++) {
    var h0 = vec4<f32>(0.0);
    for (var i = 0u; i < 4u; i++) {
      let n = v * 4u + i;
      if (n < NS) {
        if (initMode == 1u) {
          h0[i] = Hin[dd * NS + n];
        } else if (initMode == 2u) {
          h0[i] = Hout[dd * NS + n];
        }
      }
    }
    let e = select(vec4<f32>(0.0), sm[q * NV + v], c > 0u);
    h[v] = e + select(vec4<f32>(1.0), decay(pq * a[v]), c > 0u) * h0;
  }

  // 3. This chunk again from its incoming state, with the readout.
  for (var k = 0u; k < nTiles; k++) {
    let tt = t0 + k * TT;
    let cnt = select(0u, min(TT, t1 - tt), tt < t1);
    workgroupBarrier();
    stageRows(regs, k, lid, 2u);
    var dt: array<f32, TT>;
    var uu: array<f32, TT>;
    var gate: array<f32, TT>;
    for (var j = 0u; j < TT; j++) {
      dt[j] = softplus(regs.d[j] + bias);
      uu[j] = regs.u[j];
      gate[j] = select(1.0, silu(regs.z[j]), hasZ);
    }
    regs = loadTile(k + 1u, c, dd, lid, hasZ, 2u);
    workgroupBarrier();
    for (var j = 0u; j < TT; j++) {
      if (j < cnt) {
        let du = dt[j] * uu[j];
        var acc = vec4<f32>(0.0);
        for (var v = 0u; v < NV; v++) {
          h[v] = decay(dt[j] * a[v]) * h[v] + du * sm[((c * TT + j) * 2u) * NV + v];
          acc += h[v] * sm[((c * TT + j) * 2u + 1u) * NV + v];
        }
        let y = (acc.x + acc.y + acc.z + acc.w + dskip * uu[j]) * gate[j];
        if (live) { Y[params.yOff + (tt + j) * params.yStride + d] = y; }
      }
    }
  }

  if (live && c == params.nChunks - 1u) {
    for (var v = 0u; v < NV; v++) {
      for (var i = 0u; i < 4u; i++) {
        let n = v * 4u + i;
        if (n < NS) { Hout[d * NS + n] = h[v][i]; }
      }
    }
  }
}
