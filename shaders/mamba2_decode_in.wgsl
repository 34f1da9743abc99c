// mamba2_decode_in (Mamba-2 decode, one token, first of a layer's three dispatches; the body is decode_in_lib.wgsl):
//   u = RMSNorm(hidden) · g;   zxbcdt = in_proj(u) (+ in_proj bias) = z (DIN) | xBC (CD) | dt (heads)
//   for the CD conv channels c (rows CONV_OFF + c): xBC[c] = SiLU(conv_b[c] + Σ_{j<KC−1} conv_w[c, j] · state[j, c]
//   + conv_w[c, KC−1] · xBC_raw[c]), then the conv state shifts up one row and xBC_raw[c] becomes its last row
//   (the causal conv step folded into the projection's epilogue). z and dt are written as projected.
// Layout: acts (f32) holds hidden [K = d_model] at HID_OFF and zxbcdt [ROWS] at ZX_OFF; w = in_proj weight [ROWS, K]
// (f32 or packed f16); pack (f32) holds the block norm weight [K] at NORM_OFF, conv weight [CD, KC] at CONVW_OFF, conv
// bias [CD] at CONVB_OFF, in_proj bias [ROWS] at INB_OFF; conv state [KC−1, CD] token-major, oldest row first (as
// causal_conv1d_state.wgsl).
// Tiling: decode_matvec_lib.wgsl over the ROWS rows; each conv row's lane 0 owns its channel (no races on the state).
// Every workgroup recomputes the RMSNorm statistics of the d_model inputs it reads anyway.

#include "decode_in_lib.wgsl"
#include "decode_matvec_red_{RED}.wgsl"

override ROWS_ALL: u32 = 1u;
override CD: u32 = 1u;
override CONV_OFF: u32 = 0u;
override HID_OFF: u32 = 0u;
override ZX_OFF: u32 = 0u;

@group(0) @binding(0) var<storage, read_write> acts: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> pack: array<f32>;
@group(0) @binding(3) var<storage, read_write> convState: array<f32>;

fn hiddenAt(k: u32) -> f32 { return acts[HID_OFF + k]; }
fn storeRow(row: u32, v: f32) { acts[ZX_OFF + row] = v; }

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  decodeIn(wid.x + wid.y * nwg.x, t);
}
