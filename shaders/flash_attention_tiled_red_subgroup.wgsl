enable subgroups;
// flash_attention_tiled row reductions with subgroup shuffles (a snippet the wrapper prepends to
// flash_attention_tiled.wgsl). The NTX threads of a row are consecutive invocations (tid = ty*NTX + tx), so with
// NTX a power of two no larger than the subgroup size they sit in one subgroup at lanes that differ only in the low
// log2(NTX) bits; an xor-butterfly over those bits combines them. The wrapper selects this snippet only when the
// adapter has subgroups and subgroupMinSize >= NTX. No workgroup memory (RED4 = 0); red_put is a no-op.

const RED4: u32 = 0u;

fn red_put(r: u32, t: u32, v: f32) {}

fn red_max(r: u32, t: u32, v: f32) -> f32 {
  var m = v;
  for (var off = 1u; off < NTX; off *= 2u) { m = max(m, subgroupShuffleXor(m, off)); }
  return m;
}

fn red_sum(r: u32, t: u32, v: f32) -> f32 {
  var acc = v;
  for (var off = 1u; off < NTX; off *= 2u) { acc += subgroupShuffleXor(acc, off); }
  return acc;
}
