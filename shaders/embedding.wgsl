// embedding: out[t, :] = E[ids[idsOff + t], :] for t < L (token ids in a u32 GPU buffer, e.g. the token history
// buffer the sampler writes to). E is [vocab, d] row-major, possibly split into row blocks; this dispatch holds
// rows [rowStart, rowStart + blockRows) and writes only the tokens whose id falls there. The dispatch with
// ZERO_OOR set also writes zeros for ids ≥ vocab. E as f32 (bits in u32) or packed f16 pairs (W_F16; element e of
// the block is half e & 1 of word e >> 1). out[outOff + t·outStride + i].
// Tiling: grid (ceil(d / 256), min(L, 32768), ceil(L / 32768)), one element per thread.

override W_F16: bool = false;

struct Params {
  L: u32,
  d: u32,
  idsOff: u32,
  rowStart: u32,
  blockRows: u32,
  vocab: u32,
  outOff: u32,
  outStride: u32,
  zeroOOR: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let t = wid.y + wid.z * 32768u;
  let i = gid.x;
  if (t >= params.L || i >= params.d) { return; }
  let id = ids[params.idsOff + t];
  let o = params.outOff + t * params.outStride + i;
  if (id >= params.rowStart && id - params.rowStart < params.blockRows) {
    let e = (id - params.rowStart) * params.d + i;
    if (W_F16) {
      let pair = unpack2x16float(table[e >> 1u]);
      out[o] = select(pair.x, pair.y, (e & 1u) == 1u);
    } else {
      out[o] = bitcast<f32>(table[e]);
    }
  } else if (params.zeroOOR != 0u && id >= params.vocab) {
    out[o] = 0.0;
  }
}
