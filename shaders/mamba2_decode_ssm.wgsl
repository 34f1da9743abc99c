// mamba2_decode_ssm (Mamba-2 decode, one token, second of a layer's three dispatches): the SSD recurrence for one
// token, O(1) in the context. Per channel ch = (h, p) of head h in group g = h / HPG, and state n:
//   Δ_h = clamp(softplus(dt[h] + dt_bias[h]), LO, HI);   S[ch, n] = exp(Δ_h·A_h)·S[ch, n] + Δ_h·x[ch]·B[g, n]
//   y[ch] = Σ_n S[ch, n]·C[g, n] + D_h·x[ch]            (state updated in place; the gate and norm follow in the
//                                                          out_proj kernel, mamba2_decode_out)
// Layout: acts (f32) holds zxbcdt at ZX_OFF = z (DIN) | x (DIN) | B (GR·NS) | C (GR·NS) | dt (HEADS), the conv already
// applied to x, B, C; y [DIN] at Y_OFF. pack (f32) starts with [A_log (HEADS) | D (HEADS) | dt_bias (HEADS)];
// state [HEADS·PD, NS].
// Tiling: 256 threads = CPW channels × LANES threads; thread (c, lane) owns states n = lane + j·LANES (coalesced
// across lanes); the C·S partial sums are reduced over the LANES threads of a channel in workgroup memory.

#include "activations_lib.wgsl"

override NS: u32 = 16u;
override HEADS: u32 = 1u;
override PD: u32 = 1u;
override HPG: u32 = 1u;
override GR: u32 = 1u;
override DIN: u32 = 1u;
override LANES: u32 = 16u;
override CPW: u32 = 16u;
override ZX_OFF: u32 = 0u;
override Y_OFF: u32 = 0u;
override LO: f32 = 0.0;
override HI: f32 = 3.0e38;

@group(0) @binding(0) var<storage, read_write> acts: array<f32>;
@group(0) @binding(1) var<storage, read> pack: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<f32>;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let c = t / LANES;
  let lane = t % LANES;
  let ch = wid.x * CPW + c;
  let live = c < CPW && ch < DIN;
  let chc = min(ch, DIN - 1u);
  let h = chc / PD;
  let g = h / HPG;
  let xOff = ZX_OFF + DIN;
  let bOff = xOff + DIN + g * NS;
  let cOff = xOff + DIN + GR * NS + g * NS;
  let dt = clamp(softplus(acts[xOff + DIN + 2u * GR * NS + h] + pack[2u * HEADS + h]), LO, HI);
  let decay = exp(-exp(pack[h]) * dt);
  let x = acts[xOff + chc];
  let dx = dt * x;
  var acc = 0.0;
  if (live) {
    for (var n = lane; n < NS; n += LANES) {
      let k = chc * NS + n;
      let s = decay * state[k] + dx * acts[bOff + n];
      state[k] = s;
      acc += s * acts[cOff + n];
    }
  }
  part[t] = acc;
  workgroupBarrier();
  for (var s = LANES >> 1u; s > 0u; s >>= 1u) {
    if (lane < s) { part[t] += part[t + s]; }
    workgroupBarrier();
  }
  if (live && lane == 0u) { acts[Y_OFF + ch] = part[t] + pack[HEADS + h] * x; }
}
