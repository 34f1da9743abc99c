// ssd_lib: what the SSD chunk passes share (ssd_chunk_state.wgsl, ssd_chunk_out.wgsl). Not a kernel: they `#include`
// it. Needs their Params (dtOff, dtStride, lo, hi), the DT binding, the workgroup arrays sdt, scs (QMAX entries) and
// part (WG), and the consts QPT, QMAX, WG.

// Δ_s and the inclusive scan of Δ_s·A over tokens [t0, t0 + len) into sdt / scs (zeros past len). Each thread scans
// QPT consecutive entries, the WG segment totals are scanned (Hillis-Steele) in `part`, then added back.
fn chunkCumsum(lid: u32, t0: u32, len: u32, h: u32, A: f32, bias: f32) {
  var loc: array<f32, QPT>;
  var run = 0.0;
  for (var k = 0u; k < QPT; k++) {
    let s = lid * QPT + k;
    var dt = 0.0;
    if (s < len) {
      dt = clamp(softplus(DT[params.dtOff + (t0 + s) * params.dtStride + h] + bias), params.lo, params.hi);
    }
    if (s < QMAX) { sdt[s] = dt; }
    run += dt * A;
    loc[k] = run;
  }
  part[lid] = run;
  workgroupBarrier();
  for (var off = 1u; off < WG; off <<= 1u) {
    let v = select(0.0, part[select(0u, lid - off, lid >= off)], lid >= off);
    workgroupBarrier();
    part[lid] += v;
    workgroupBarrier();
  }
  let before = select(0.0, part[max(lid, 1u) - 1u], lid > 0u);
  for (var k = 0u; k < QPT; k++) {
    let s = lid * QPT + k;
    if (s < QMAX) { scs[s] = loc[k] + before; }
  }
  workgroupBarrier();
}
