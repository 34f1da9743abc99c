// decode_embed (decode, one token): out[i] = E[id, i] with id = history[state[0]], the token at the current
// position, read on the GPU (the previous step's sampler wrote it there), so a recorded decode step needs no
// per-token upload. E [VOCAB, D] row-major, possibly split into row blocks: this dispatch holds rows
// [ROW_START, ROW_START + BLOCK_ROWS) and writes only when the id falls there; the ZERO_OOR dispatch also writes
// zeros for ids ≥ VOCAB (the non-finite sentinel 0xffffffff). f32 (bits in u32) or packed f16 pairs (W_F16; element
// e of the block is half e & 1 of word e >> 1). Tiling: one element per thread, 256 per workgroup, ceil(D / 256).

override D: u32 = 1u;
override ROW_START: u32 = 0u;
override BLOCK_ROWS: u32 = 1u;
override VOCAB: u32 = 1u;
override ZERO_OOR: bool = true;
override W_F16: bool = false;

@group(0) @binding(0) var<storage, read> history: array<u32>;
@group(0) @binding(1) var<storage, read> state: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= D) { return; }
  let id = history[state[0]];
  if (id >= ROW_START && id - ROW_START < BLOCK_ROWS) {
    let e = (id - ROW_START) * D + i;
    if (W_F16) {
      let pair = unpack2x16float(table[e >> 1u]);
      out[i] = select(pair.x, pair.y, (e & 1u) == 1u);
    } else {
      out[i] = bitcast<f32>(table[e]);
    }
  } else if (ZERO_OOR && id >= VOCAB) {
    out[i] = 0.0;
  }
}
