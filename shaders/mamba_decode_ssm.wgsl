// mamba_decode_ssm (Mamba decode, one token, third of a layer's four dispatches): dt_proj + softplus + SSM step + D
// skip + SiLU(z) gate in one pass, O(1) in the context. Per channel d and state n:
//   Δ[d] = softplus(Σ_{j<R} W_dt[d, j] · Δ_low[j] + dt_bias[d])
//   h[d, n] = exp(Δ[d] · A[d, n]) · h[d, n] + Δ[d] · B[n] · u[d]           (state updated in place)
//   y[d] = (Σ_n C[n] · h[d, n] + D[d] · u[d]) · SiLU(z[d])
// Layout: dbc = x_proj output [R + 2·NS] (Δ_low | B | C); W_dt [DIN, R] (f32 or packed f16, element e at half e & 1
// of word e >> 1; any R); pack (f32) holds A = −exp(A_log) [DIN, NS] at A_OFF, D [DIN] at D_OFF and dt_bias [DIN] at
// DTB_OFF; uz = (u | z) [2·DIN]; state [DIN, NS]; y [DIN].
// Tiling: WG threads = CPW channels × TPC threads per channel, each thread SPT = NS / TPC states n ≡ lane (mod TPC).
// On a GPU TPC = NS (one state per thread, coalesced state rows; WG 256); on a CPU adapter TPC = 1 (one thread per
// channel, WG 64: a software rasteriser pays per invocation at every barrier). The TPC threads of a channel split the
// dt_proj dot (j ≡ lane mod TPC) and the C·h sum, both reduced in workgroup memory.

#include "activations_lib.wgsl"

override DIN: u32 = 1u;
override NS: u32 = 16u;
override R: u32 = 1u;
override W_F16: bool = false;
override A_OFF: u32 = 0u;
override D_OFF: u32 = 0u;
override DTB_OFF: u32 = 0u;
override CPW: u32 = 16u;
override TPC: u32 = 16u;
override WG: u32 = 256u;
const SPT: u32 = 16u; // the most states per thread (their registers): TPC ≥ NS / 16

@group(0) @binding(0) var<storage, read> dbc: array<f32>;
@group(0) @binding(1) var<storage, read> wdt: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> pack: array<f32>;
@group(0) @binding(3) var<storage, read> uz: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

var<workgroup> part: array<f32, WG>;
var<workgroup> dts: array<f32, CPW>;

fn welem(e: u32) -> f32 {
  if (W_F16) {
    let word = e >> 1u;
    let p = unpack2x16float(wdt[word >> 2u][word & 3u]);
    return select(p.x, p.y, (e & 1u) == 1u);
  }
  return bitcast<f32>(wdt[e >> 2u][e & 3u]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let c = t / TPC;
  let lane = t % TPC;
  let d = wid.x * CPW + c;
  let live = c < CPW && d < DIN;
  let spt = (NS + TPC - 1u) / TPC; // states of this thread: n = lane + i·TPC, i < spt, n < NS
  // Every operand that does not depend on Δ is loaded first, so the kernel waits on one round of global loads
  // instead of four (dt_proj dot, dt_bias, the state step's inputs, the gate's).
  var a: array<f32, SPT>;
  var h0: array<f32, SPT>;
  var bn: array<f32, SPT>;
  var cn: array<f32, SPT>;
  var dtb = 0.0;
  var u = 0.0;
  var dd = 0.0;
  var z = 0.0;
  if (live) {
    u = uz[d];
    for (var i = 0u; i < spt; i++) {
      let n = lane + i * TPC;
      if (n < NS) {
        let k = d * NS + n;
        a[i] = pack[A_OFF + k];
        h0[i] = state[k];
        bn[i] = dbc[R + n];
        cn[i] = dbc[R + NS + n];
      }
    }
    if (lane == 0u) {
      dtb = pack[DTB_OFF + d];
      dd = pack[D_OFF + d];
      z = uz[DIN + d];
    }
  }
  var acc = 0.0;
  if (live) {
    for (var j = lane; j < R; j += TPC) { acc += welem(d * R + j) * dbc[j]; }
  }
  part[t] = acc;
  workgroupBarrier();
  if (live && lane == 0u) {
    var s = dtb;
    for (var i = 0u; i < TPC; i++) { s += part[t + i]; }
    dts[c] = softplus(s);
  }
  workgroupBarrier();
  var contrib = 0.0;
  if (live) {
    let dt = dts[c];
    for (var i = 0u; i < spt; i++) {
      let n = lane + i * TPC;
      if (n < NS) {
        let h = exp(dt * a[i]) * h0[i] + dt * bn[i] * u;
        state[d * NS + n] = h;
        contrib += cn[i] * h;
      }
    }
  }
  part[t] = contrib;
  workgroupBarrier();
  if (live && lane == 0u) {
    var s = 0.0;
    for (var i = 0u; i < TPC; i++) { s += part[t + i]; }
    y[d] = (s + dd * u) * silu(z);
  }
}
