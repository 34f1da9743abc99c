// decode_matvec row sum with subgroup shuffles (included after decode_matvec_lib.wgsl as RED = subgroup,
// when the adapter has subgroups; it enables them). SG = the adapter's smallest subgroup size (a power of two): a
// row's LANES threads are consecutive invocations, so within each aligned run of min(LANES, SG) of them a butterfly of
// subgroupShuffleXor sums the run; when LANES > SG, lane 0 of the row adds the LANES / SG run sums through workgroup
// memory (one barrier instead of laneSumL's two and its serial folds). The result is in lane 0 of the slot. Call from
// uniform control flow.
enable subgroups;

override SG: u32 = 32u;

fn laneSum(t: u32, v: f32) -> f32 {
  let w = min(LANES, SG);
  var s = v;
  for (var o = 1u; o < w; o <<= 1u) { s += subgroupShuffleXor(s, o); }
  if (LANES <= SG) { return s; }
  red[t] = s;
  workgroupBarrier();
  var r = 0.0;
  if (t % LANES == 0u) { for (var j = 0u; j < LANES; j += SG) { r += red[t + j]; } }
  return r;
}
