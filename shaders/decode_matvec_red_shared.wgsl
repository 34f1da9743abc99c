// decode_matvec row sum through workgroup memory (included after decode_matvec_lib.wgsl as RED = shared, when subgroups are not used):
// the LANES threads of a row slot summed by laneSumL, the result in lane 0 of the slot. Call from uniform control flow.
fn laneSum(t: u32, v: f32) -> f32 {
  return laneSumL(t, v, LANES);
}
