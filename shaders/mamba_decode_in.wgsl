// mamba_decode_in (Mamba decode, one token, first of a layer's four dispatches; the body is decode_in_lib.wgsl):
//   x_norm = RMSNorm(hidden) · g;   (x | z) = in_proj(x_norm) (+ in_proj bias)
//   u[c] = SiLU(conv_b[c] + Σ_{j<KC−1} conv_w[c, j] · state[j, c] + conv_w[c, KC−1] · x[c]), then the conv state
//   shifts up one row and x[c] becomes its last row (causal_conv1d_step folded into the projection's epilogue);
//   uz = (u | z) [2·DIN].
// Layout: hidden [K = d_model]; w = in_proj weight [2·DIN, K] (f32 or packed f16); pack (f32) holds the norm weight
// [K] at NORM_OFF, conv weight [DIN, KC] at CONVW_OFF, conv bias [DIN] at CONVB_OFF, in_proj bias [2·DIN] at INB_OFF;
// conv state [KC−1, DIN] token-major, oldest row first (as causal_conv1d_state.wgsl); uz [2·DIN].
// Tiling: decode_matvec_lib.wgsl over the 2·DIN rows; each row's lane 0 owns channel c = row (< DIN): no races on
// the state. Every workgroup recomputes the RMSNorm statistics of the d_model inputs it reads anyway.

#include "decode_in_lib.wgsl"
#include "decode_matvec_red_{RED}.wgsl"

override DIN: u32 = 1u;
// decode_in_lib's rows: the conv channels are the first DIN of the 2·DIN
override ROWS_ALL: u32 = 2u * DIN;
override CD: u32 = DIN;
override CONV_OFF: u32 = 0u;

@group(0) @binding(0) var<storage, read> hidden: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> pack: array<f32>;
@group(0) @binding(3) var<storage, read_write> convState: array<f32>;
@group(0) @binding(4) var<storage, read_write> uz: array<f32>;

fn hiddenAt(k: u32) -> f32 { return hidden[k]; }
fn storeRow(row: u32, v: f32) { uz[row] = v; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  decodeIn(wid.x + wid.y * nwg.x, t);
}
