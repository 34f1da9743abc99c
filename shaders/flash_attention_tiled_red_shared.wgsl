// flash_attention_tiled row reductions through workgroup memory (included by
// flash_attention_tiled.wgsl as RED = shared; which declares NTX, BR4 and red_store / red_load over its reduction slots).
// Slot t*BR4 + r4 holds thread t's partials for rows 4*r4 .. 4*r4+3 as one vec4. red_put4 writes this thread's
// vec4; after a workgroupBarrier, red_max4 / red_sum4 combine the NTX vec4s of the 4 rows (NTX broadcast loads).

const RED4: u32 = NTX * BR4;

fn red_put4(r4: u32, t: u32, v: vec4<f32>) {
  red_store(t * BR4 + r4, v);
}

fn red_max4(r4: u32, t: u32, v: vec4<f32>) -> vec4<f32> {
  var m = v;
  for (var u = 0u; u < NTX; u++) { m = max(m, red_load(u * BR4 + r4)); }
  return m;
}

fn red_sum4(r4: u32, t: u32, v: vec4<f32>) -> vec4<f32> {
  var acc = vec4<f32>(0.0);
  for (var u = 0u; u < NTX; u++) { acc += red_load(u * BR4 + r4); }
  return acc;
}
