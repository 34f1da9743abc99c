// selective_scan_onepass (kernel lab, src/bench/lab/scan-lab.ts: slower than the three passes on every GPU measured):
// the fused selective scan in ONE pass (Mamba v1 with delta_softplus, D skip and SiLU(z) gate):
// every exponential is computed once and nothing but y and the final state reaches global memory. Needs the
// `subgroups` feature (enabled below; the wrapper sets the constants below).
//   Δ_t = softplus(δ_t + bias);  h_t = exp(Δ_t·A) ⊙ h_{t−1} + (Δ_t·u_t)·B_t;  y_t = (C_t·h_t + Dskip·u_t)·SiLU(z_t)
// Layouts as selective_scan_chunk_out (strided [L, D] views of u, δ, z, y; B and C [L, N] inside one buffer; packed
// params w = [A (D·N) | Dskip (D) | bias (D)]; Hin / Hout [D, N]).
// Work split: a workgroup owns WC consecutive channels and walks the whole sequence in chunks of TC = P·S tokens, in
// order, carrying the state from chunk to chunk in registers. In a chunk one subgroup owns one channel: its sgs lanes
// are Q state lanes × P = sgs/Q time lanes; lane (q, p) holds the states [4·SV·q, 4·SV·(q+1)) as SV vec4s and the S
// consecutive tokens p·S .. p·S+S−1 of the chunk. Per chunk:
//   1. staging (whole workgroup): the chunk's Δ, Δ·u, Dskip·u, SiLU(z) [TC, WC] and B, C [TC, N], loaded coalesced one
//      chunk ahead into registers, are stored to workgroup memory in slot order i·P + p (token p·S + i), so that the
//      lanes' reads below touch consecutive words (no bank conflicts); the previous chunk's y leaves from sY.
//   2. each lane scans its S tokens from zero state: a_t = exp2(Δ_t·A·log2 e), (Π a_t, h_local); a_t stays in
//      registers (STORE_A) or is recomputed in step 4;
//   3. a Hillis–Steele scan over the P time lanes of the pairs (Π a, h) with subgroupShuffleUp gives every lane its
//      incoming state from the chunk's carry, and the last time lane's end state becomes the next carry;
//   4. each lane re-walks its tokens from its incoming state; C_t·h_t is summed over the Q state lanes with
//      subgroupShuffleXor and (y + Dskip·u)·SiLU(z) goes to sY.
// Subgroups are numbered with a workgroup atomic (no assumption on how invocations map to subgroups). If a subgroup is
// not full, its size is not a multiple of Q or exceeds SGMAX (or FORCE_SLOW), the whole workgroup takes a plain
// sequential path (one thread per channel) instead: slow but correct for any subgroup behaviour.
// Workgroup memory: 5·WC·(TCMAX+1)·4 + 2·TCMAX·NV4·16 bytes (the wrapper sizes WC and S to fit the device).
// Constants (set by the wrapper): NS (N), SV, Q, NV4 = Q·SV, S, WC, WGS = workgroup size, SGMAX, TCMAX = (SGMAX/Q)·S, SA (S when
// STORE_A else 1), STORE_A, FORCE_SLOW, YBF (transposing y reduction; needs S % Q == 0), SY (S when YBF else 1), LOGQ, ASSERT_FAST (tests: the fallback writes 1e30 into h_L), PF1 = ceil(TCMAX·WC/WGS), PF2 = ceil(TCMAX·2·NV4/WGS) (vec4 groups of B, C).

#include "ssm_lib.wgsl"
#include "scan_out_io.wgsl"

enable subgroups;
diagnostic(off, subgroup_uniformity);

const TCP: u32 = TCMAX + 1u;   // row of the per-channel arrays, odd so the transposed staging stores do not conflict
const NP: u32 = NV4 * 4u;      // padded state size
const LOG2E: f32 = 1.4426950408889634;

var<workgroup> sDt: array<f32, WC * TCP>;
var<workgroup> sDu: array<f32, WC * TCP>;
var<workgroup> sSkip: array<f32, WC * TCP>;
var<workgroup> sG: array<f32, WC * TCP>;
var<workgroup> sY: array<f32, WC * TCP>;
var<workgroup> sB: array<vec4<f32>, TCMAX * NV4>;
var<workgroup> sC: array<vec4<f32>, TCMAX * NV4>;
var<workgroup> sBias: array<f32, WC>;
var<workgroup> sDsk: array<f32, WC>;
var<workgroup> sgCounter: atomic<u32>;
var<workgroup> sgSizes: atomic<u32>;
var<workgroup> badCount: atomic<u32>;
var<workgroup> badFlag: u32;

fn ex2(x: vec4<f32>) -> vec4<f32> {
  return exp2(x);
}

// Token r of a chunk (r = p·S + i) lives in slot i·P + p.
fn slotOf(r: u32, P: u32) -> u32 {
  return (r % S) * P + r / S;
}

// Loads chunk [t0, t0 + TC) of u, δ, z (WC channels from dBase) and B, C into this thread's prefetch registers. Every
// load is unconditional (token, channel and state indices clamped into range) and nothing is consumed here, so all
// of them are in flight together; out-of-range values are masked when staged.
fn loadChunk(t0: u32, dBase: u32, li: u32, hasZ: bool,
             pU: ptr<function, array<f32, PF1>>, pD: ptr<function, array<f32, PF1>>,
             pZ: ptr<function, array<f32, PF1>>, pBC: ptr<function, array<vec4<f32>, PF2>>) {
  let lastT = params.L - 1u;
  let lastD = params.D - 1u;
  for (var j = 0u; j < PF1; j++) {
    let e = li + j * WGS;
    let t = min(t0 + e / WC, lastT);
    let d = min(dBase + e % WC, lastD);
    (*pU)[j] = U[params.uOff + t * params.uStride + d];
    (*pD)[j] = Delta[params.dOff + t * params.dStride + d];
    (*pZ)[j] = Z[select(0u, params.zOff + t * params.zStride + d, hasZ)];
  }
  // B and C in groups of 4 states: group g = (token r, k) with k < NV4 for B, else C.
  for (var j = 0u; j < PF2; j++) {
    let g = li + j * WGS;
    let k = g % (2u * NV4);
    let t = min(t0 + g / (2u * NV4), lastT);
    let base = select(params.bOff, params.cOff, k >= NV4) + t * params.bcStride;
    let n0 = (k % NV4) * 4u;
    var v: vec4<f32>;
    for (var c = 0u; c < 4u; c++) {
      v[c] = BC[base + min(n0 + c, NS - 1u)];
    }
    (*pBC)[j] = v;
  }
}

@compute @workgroup_size(WGS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sgs: u32) {
  let D = params.D;
  let L = params.L;
  let dBase = wid.x * WC;
  let hasZ = (params.flags & 1u) != 0u;
  let initMode = (params.flags >> 1u) & 3u;

  // Number the subgroups of this workgroup, check that the fast path's layout works for this subgroup.
  var mine = 0u;
  if (subgroupElect()) {
    mine = atomicAdd(&sgCounter, 1u);
    atomicOr(&sgSizes, sgs);
  }
  let sg = subgroupBroadcastFirst(mine);
  let full = subgroupAdd(1u) == sgs;
  if (li < WC) {
    let dd = min(dBase + li, D - 1u);
    sDsk[li] = W[D * NS + dd];
    sBias[li] = W[D * NS + D + dd];
  }
  workgroupBarrier();
  // Every subgroup full and of one size (the staging below uses this invocation's sgs for the whole workgroup).
  if (!full || atomicLoad(&sgSizes) != sgs || sgs < Q || sgs % Q != 0u || sgs > SGMAX || FORCE_SLOW) {
    atomicAdd(&badCount, 1u);
  }
  workgroupBarrier();
  if (li == 0u) { badFlag = atomicLoad(&badCount); }
  if (workgroupUniformLoad(&badFlag) != 0u) {
    sequential(li, dBase, hasZ, initMode);
    if (ASSERT_FAST && li < WC && dBase + li < D) { Hout[(dBase + li) * NS] = 1e30; }
    return;
  }

  let P = sgs / Q;
  let TC = P * S;
  let q = lane % Q;
  let p = lane / Q;
  let cl = min(sg, WC - 1u);
  let d = dBase + sg;
  let task = sg < WC && d < D;
  let dd = min(d, D - 1u);
  let rowBase = cl * TCP;

  // A·log2(e) for this lane's states; the initial carry is read by the p = 0 lanes and shared with subgroupShuffle.
  var a2: array<vec4<f32>, SV>;
  var carry: array<vec4<f32>, SV>;
  for (var v = 0u; v < SV; v++) {
    var av = vec4<f32>(0.0);
    var hv = vec4<f32>(0.0);
    for (var k = 0u; k < 4u; k++) {
      let n = (q * SV + v) * 4u + k;
      if (n < NS) {
        av[k] = W[dd * NS + n] * LOG2E;
        if (p == 0u && initMode == 1u) {
          hv[k] = Hin[dd * NS + n];
        } else if (p == 0u && initMode == 2u) {
          hv[k] = Hout[dd * NS + n];
        }
      }
    }
    a2[v] = av;
    carry[v] = subgroupShuffle(hv, q);
  }

  var pfU: array<f32, PF1>;
  var pfD: array<f32, PF1>;
  var pfZ: array<f32, PF1>;
  var pfBC: array<vec4<f32>, PF2>;
  loadChunk(0u, dBase, li, hasZ, &pfU, &pfD, &pfZ, &pfBC);
  let nChunks = (L + TC - 1u) / TC;

  for (var ck = 0u; ck < nChunks; ck++) {
    let t0 = ck * TC;
    // 1. Staging. The previous chunk's y leaves first (its sY slots are rewritten in step 4 below, after a barrier).
    if (ck > 0u) {
      for (var j = 0u; j < PF1; j++) {
        let e = li + j * WGS;
        let r = e / WC;
        let c = e % WC;
        let t = t0 - TC + r;
        if (r < TC && dBase + c < D) {
          Y[params.yOff + t * params.yStride + dBase + c] = sY[c * TCP + slotOf(r, P)];
        }
      }
    }
    for (var j = 0u; j < PF1; j++) {
      let e = li + j * WGS;
      let r = e / WC;
      let c = e % WC;
      if (r < TC) {
        let live = t0 + r < L && dBase + c < D;
        let idx = c * TCP + slotOf(r, P);
        let dt = select(0.0, softplus(pfD[j] + sBias[c]), live);
        sDt[idx] = dt;
        sDu[idx] = dt * pfU[j];
        sSkip[idx] = sDsk[c] * pfU[j];
        sG[idx] = select(1.0, silu(pfZ[j]), hasZ);
      }
    }
    for (var j = 0u; j < PF2; j++) {
      let g = li + j * WGS;
      let r = g / (2u * NV4);
      let k = g % (2u * NV4);
      if (r < TC) {
        let idx = slotOf(r, P) * NV4 + k % NV4;
        let n0 = (k % NV4) * 4u;
        let v = select(vec4<f32>(0.0), pfBC[j], vec4<u32>(n0, n0 + 1u, n0 + 2u, n0 + 3u) < vec4<u32>(NS));
        if (k < NV4) { sB[idx] = v; } else { sC[idx] = v; }
      }
    }
    // The next chunk's loads (past the end they re-read valid rows and are never staged).
    loadChunk(t0 + TC, dBase, li, hasZ, &pfU, &pfD, &pfZ, &pfBC);
    workgroupBarrier();

    // 2. Local scan of this lane's S tokens from zero state.
    var pv: array<vec4<f32>, SV>;
    var hv: array<vec4<f32>, SV>;
    var aS: array<array<vec4<f32>, SV>, SA>;
    for (var v = 0u; v < SV; v++) {
      pv[v] = vec4<f32>(1.0);
      hv[v] = vec4<f32>(0.0);
    }
    for (var i = 0u; i < S; i++) {
      let slot = i * P + p;
      let dt = sDt[rowBase + slot];
      let du = sDu[rowBase + slot];
      for (var v = 0u; v < SV; v++) {
        let a = ex2(dt * a2[v]);
        pv[v] *= a;
        hv[v] = a * hv[v] + du * sB[slot * NV4 + q * SV + v];
        if (STORE_A) { aS[i][v] = a; }
      }
    }

    // 3. Inclusive scan of (Π a, h) over the time lanes (stride Q), then each lane's incoming state and the carry.
    for (var off = 1u; off < P; off <<= 1u) {
      let take = p >= off;
      for (var v = 0u; v < SV; v++) {
        let pu = subgroupShuffleUp(pv[v], off * Q);
        let hu = subgroupShuffleUp(hv[v], off * Q);
        hv[v] = select(hv[v], pv[v] * hu + hv[v], take);
        pv[v] = select(pv[v], pv[v] * pu, take);
      }
    }
    var h: array<vec4<f32>, SV>;
    for (var v = 0u; v < SV; v++) {
      let pe = subgroupShuffleUp(pv[v], Q);
      let he = subgroupShuffleUp(hv[v], Q);
      h[v] = select(pe * carry[v] + he, carry[v], p == 0u);
      carry[v] = subgroupShuffle(pv[v] * carry[v] + hv[v], (P - 1u) * Q + q);
    }

    // 4. Re-walk from the incoming state with the readout; y summed over the Q state lanes.
    var ys: array<f32, SY>;
    for (var i = 0u; i < S; i++) {
      let slot = i * P + p;
      let du = sDu[rowBase + slot];
      var dt = 0.0;
      if (!STORE_A) { dt = sDt[rowBase + slot]; }
      var y = 0.0;
      for (var v = 0u; v < SV; v++) {
        var a: vec4<f32>;
        if (STORE_A) { a = aS[i][v]; } else { a = ex2(dt * a2[v]); }
        h[v] = a * h[v] + du * sB[slot * NV4 + q * SV + v];
        y += dot(h[v], sC[slot * NV4 + q * SV + v]);
      }
      if (YBF) {
        ys[i] = y;
      } else {
        for (var m = 1u; m < Q; m <<= 1u) {
          y += subgroupShuffleXor(y, m);
        }
        if (q == 0u && task) {
          sY[rowBase + slot] = (y + sSkip[rowBase + slot]) * sG[rowBase + slot];
        }
      }
    }
    if (YBF) {
      // Transposing reduction over the Q state lanes: at the step with mask m, a lane keeps the items whose bit
      // matches its own and adds its partner's copy, halving its list (S·(1 − 1/Q) shuffles instead of S·log2 Q).
      // Afterwards lane q holds the sums of items Q·j + q and writes those y itself.
      for (var st = 0u; st < LOGQ; st++) {
        let m = 1u << st;
        let up = (q & m) != 0u;
        for (var j = 0u; j < (S >> (st + 1u)); j++) {
          let lo = ys[2u * j];
          let hi = ys[2u * j + 1u];
          ys[j] = select(lo, hi, up) + subgroupShuffleXor(select(hi, lo, up), m);
        }
      }
      for (var j = 0u; j < S / Q; j++) {
        let slot = (Q * j + q) * P + p;
        if (task) { sY[rowBase + slot] = (ys[j] + sSkip[rowBase + slot]) * sG[rowBase + slot]; }
      }
    }
    workgroupBarrier();
  }

  // The last chunk's y, then the final state.
  if (nChunks > 0u) {
    let t0 = (nChunks - 1u) * TC;
    for (var j = 0u; j < PF1; j++) {
      let e = li + j * WGS;
      let r = e / WC;
      let c = e % WC;
      if (r < TC && t0 + r < L && dBase + c < D) {
        Y[params.yOff + (t0 + r) * params.yStride + dBase + c] = sY[c * TCP + slotOf(r, P)];
      }
    }
  }
  if (task && p == 0u) {
    for (var v = 0u; v < SV; v++) {
      for (var k = 0u; k < 4u; k++) {
        let n = (q * SV + v) * 4u + k;
        if (n < NS) { Hout[d * NS + n] = carry[v][k]; }
      }
    }
  }
}

// Fallback for subgroup layouts the fast path cannot use: one thread per channel walks all L tokens (as the
// 'sequential' variant), reading global memory directly.
fn sequential(li: u32, dBase: u32, hasZ: bool, initMode: u32) {
  let D = params.D;
  let d = dBase + li;
  if (li >= WC || d >= D) { return; }
  var a: array<vec4<f32>, NV4>;
  var h: array<vec4<f32>, NV4>;
  for (var v = 0u; v < NV4; v++) {
    var av = vec4<f32>(0.0);
    var hv = vec4<f32>(0.0);
    for (var k = 0u; k < 4u; k++) {
      let n = v * 4u + k;
      if (n < NS) {
        av[k] = W[d * NS + n];
        if (initMode == 1u) { hv[k] = Hin[d * NS + n]; } else if (initMode == 2u) { hv[k] = Hout[d * NS + n]; }
      }
    }
    a[v] = av;
    h[v] = hv;
  }
  let dsk = W[D * NS + d];
  let bias = W[D * NS + D + d];
  for (var t = 0u; t < params.L; t++) {
    let dt = softplus(Delta[params.dOff + t * params.dStride + d] + bias);
    let u = U[params.uOff + t * params.uStride + d];
    var y = 0.0;
    for (var v = 0u; v < NV4; v++) {
      var bv = vec4<f32>(0.0);
      var cv = vec4<f32>(0.0);
      for (var k = 0u; k < 4u; k++) {
        let n = v * 4u + k;
        if (n < NS) {
          bv[k] = BC[params.bOff + t * params.bcStride + n];
          cv[k] = BC[params.cOff + t * params.bcStride + n];
        }
      }
      h[v] = exp(dt * a[v]) * h[v] + (dt * u) * bv;
      y += dot(h[v], cv);
    }
    y += dsk * u;
    if (hasZ) { y *= silu(Z[params.zOff + t * params.zStride + d]); }
    Y[params.yOff + t * params.yStride + d] = y;
  }
  for (var v = 0u; v < NV4; v++) {
    for (var k = 0u; k < 4u; k++) {
      let n = v * 4u + k;
      if (n < NS) { Hout[d * NS + n] = h[v][k]; }
    }
  }
}
