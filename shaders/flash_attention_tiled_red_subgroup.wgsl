// flash_attention_tiled row reductions with subgroup shuffles (included by flash_attention_tiled.wgsl as
// RED = subgroup; the `enable` below moves to the top of the module). The NTX threads of a row group are consecutive invocations (tid = ty*NTX + tx), so
// with NTX a power of two no larger than the subgroup size they sit in one subgroup at lanes that differ only in the
// low log2(NTX) bits; an xor butterfly over those bits combines them (vec4: 4 rows per shuffle). The steps are
// straight-line code under constant conditions, not a loop, so the compiler never has to unroll around a shuffle.
// The wrapper selects this snippet only when the adapter has subgroups and subgroupMinSize >= NTX.
// No workgroup memory (RED4 = 0); red_put4 is a no-op.

enable subgroups;

const RED4: u32 = 0u;

fn red_put4(r4: u32, t: u32, v: vec4<f32>) {}

fn red_max4(r4: u32, t: u32, v: vec4<f32>) -> vec4<f32> {
  var x = v;
  if (NTX > 1u) { x = max(x, subgroupShuffleXor(x, 1u)); }
  if (NTX > 2u) { x = max(x, subgroupShuffleXor(x, 2u)); }
  if (NTX > 4u) { x = max(x, subgroupShuffleXor(x, 4u)); }
  if (NTX > 8u) { x = max(x, subgroupShuffleXor(x, 8u)); }
  if (NTX > 16u) { x = max(x, subgroupShuffleXor(x, 16u)); }
  if (NTX > 32u) { x = max(x, subgroupShuffleXor(x, 32u)); }
  return x;
}

fn red_sum4(r4: u32, t: u32, v: vec4<f32>) -> vec4<f32> {
  var x = v;
  if (NTX > 1u) { x += subgroupShuffleXor(x, 1u); }
  if (NTX > 2u) { x += subgroupShuffleXor(x, 2u); }
  if (NTX > 4u) { x += subgroupShuffleXor(x, 4u); }
  if (NTX > 8u) { x += subgroupShuffleXor(x, 8u); }
  if (NTX > 16u) { x += subgroupShuffleXor(x, 16u); }
  if (NTX > 32u) { x += subgroupShuffleXor(x, 32u); }
  return x;
}
