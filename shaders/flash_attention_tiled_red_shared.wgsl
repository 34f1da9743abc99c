// flash_attention_tiled row reductions through workgroup memory (a snippet the wrapper prepends to
// flash_attention_tiled.wgsl, which declares kp, KP4 and NTX). Slot (r, t) of row r and thread t is float
// r*NTX + t of the RED4 vec4s after kp's K^T / P^T area. red_put writes this thread's partial; after a
// workgroupBarrier, red_max / red_sum combine the NTX partials of the row (every thread of the row gets the result).

const RED4: u32 = BR * NTX / 4u;

fn red_put(r: u32, t: u32, v: f32) {
  let f = r * NTX + t;
  kp[KP4 + f / 4u][f % 4u] = v;
}

fn red_max(r: u32, t: u32, v: f32) -> f32 {
  var m = v;
  for (var u = 0u; u < NTX; u++) {
    let f = r * NTX + u;
    m = max(m, kp[KP4 + f / 4u][f % 4u]);
  }
  return m;
}

fn red_sum(r: u32, t: u32, v: f32) -> f32 {
  var acc = 0.0;
  for (var u = 0u; u < NTX; u++) {
    let f = r * NTX + u;
    acc += kp[KP4 + f / 4u][f % 4u];
  }
  return acc;
}
