// mamba_decode_layer (Mamba decode, one token; includes decode_matvec_lib.wgsl): one pipeline and one bind group
// for a whole layer, dispatched four times; each dispatch runs one stage, told apart by its grid size (num_workgroups.x
// is G_IN, G_X, G_SSM or G_OUT, made distinct by the wrapper with padding workgroups that exit at once), so
// a layer costs one setBindGroup and four dispatchWorkgroups and no setPipeline at all (Dawn's per-call cost, not the
// GPU, bounds decode on a fast GPU). The stages are the four fused kernels, same math:
//   in  (mamba_decode_in):  uz = (SiLU(conv_step(x)), z),  (x | z) = in_proj(RMSNorm(hidden) · g) (+ bias)
//   x   (x_proj):           dbc = W_x · u                    (Δ_low | B | C)
//   ssm (mamba_decode_ssm): y = (C · h + D u) · SiLU(z),  h = exp(Δ A) h + Δ B u,  Δ = softplus(W_dt Δ_low + b)
//   out (out_proj):         hidden += W_out · y (+ bias)
// Layout: acts (f32) holds hidden [D] at HID_OFF, uz [2·DIN] at UZ_OFF, dbc [R + 2·NS] at DBC_OFF, y [DIN] at Y_OFF;
// weights w_in [2·DIN, D], w_x [R + 2·NS, DIN], w_out [D, DIN] (f32 or packed f16, W_F16), w_dt [DIN, R] (DT_F16);
// pack: the layer's small parameters (mambaPackLayout); conv state [KC − 1, DIN]; SSM state [DIN, NS].
// Tiling: the matrix stages as decode_matvec_lib.wgsl with LANES_* threads per row (x staged in workgroup memory);
// the SSM stage as mamba_decode_ssm.wgsl (CPW channels × NS states per workgroup).

#include "decode_matvec_lib.wgsl"
#include "decode_matvec_red_shared.wgsl"

override D: u32 = 1u;
override DIN: u32 = 1u;
override NS: u32 = 16u;
override R: u32 = 1u;
override KC: u32 = 4u;
override EPS: f32 = 1e-5;
override DT_F16: bool = false;
override HAS_IN_BIAS: bool = false;
override HAS_CONV_BIAS: bool = true;
override HAS_OUT_BIAS: bool = false;
override NORM_OFF: u32 = 0u;
override CONVW_OFF: u32 = 0u;
override CONVB_OFF: u32 = 0u;
override INB_OFF: u32 = 0u;
override OUTB_OFF: u32 = 0u;
override A_OFF: u32 = 0u;
override D_OFF: u32 = 0u;
override DTB_OFF: u32 = 0u;
override HID_OFF: u32 = 0u;
override UZ_OFF: u32 = 0u;
override DBC_OFF: u32 = 0u;
override Y_OFF: u32 = 0u;
override LANES_IN: u32 = 64u;
override LANES_X: u32 = 64u;
override LANES_OUT: u32 = 64u;
override VEC_IN: bool = true;
override VEC_DIN: bool = true;
override CPW: u32 = 16u;
override G_IN: u32 = 1u;
override G_X: u32 = 2u;
override G_SSM: u32 = 3u;
override G_OUT: u32 = 4u;

@group(0) @binding(0) var<storage, read_write> acts: array<f32>;
@group(0) @binding(1) var<storage, read> w_in: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> w_x: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> w_dt: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> w_out: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read> pack: array<f32>;
@group(0) @binding(6) var<storage, read_write> convState: array<f32>;
@group(0) @binding(7) var<storage, read_write> ssmState: array<f32>;

var<workgroup> dts: array<f32, CPW>;

fn wchunk(seg: u32, i: u32) -> vec4<u32> {
  if (seg == 0u) { return w_in[i]; }
  if (seg == 1u) { return w_x[i]; }
  return w_out[i];
}
fn xraw(k: u32) -> f32 { return xsGet(k); }
fn xglobal(k: u32) -> f32 { return xsGet(k); } // the wrapper requires the staged path

fn silu(v: f32) -> f32 { return v / (1.0 + exp(-v)); }

// softplus(v) = log(1 + eᵛ) (v for v > 20, as torch), accurate where it is tiny (as mamba_decode_ssm.wgsl).
fn softplus(v: f32) -> f32 {
  if (v > 20.0) { return v; }
  let e = exp(-abs(v));
  var l: f32;
  if (e < 0.25) {
    var p = 1.0 / 11.0;
    p = 1.0 / 10.0 - e * p; p = 1.0 / 9.0 - e * p; p = 1.0 / 8.0 - e * p; p = 1.0 / 7.0 - e * p;
    p = 1.0 / 6.0 - e * p; p = 1.0 / 5.0 - e * p; p = 1.0 / 4.0 - e * p; p = 1.0 / 3.0 - e * p;
    p = 1.0 / 2.0 - e * p; p = 1.0 - e * p;
    l = e * p;
  } else {
    l = log(1.0 + e);
  }
  return max(v, 0.0) + l;
}

fn dtElem(e: u32) -> f32 {
  if (DT_F16) {
    let word = e >> 1u;
    let p = unpack2x16float(w_dt[word >> 2u][word & 3u]);
    return select(p.x, p.y, (e & 1u) == 1u);
  }
  return bitcast<f32>(w_dt[e >> 2u][e & 3u]);
}

// Stage "in": RMSNorm + in_proj + conv step + SiLU.
fn stageIn(g: u32, t: u32) {
  let rows = WG / LANES_IN;
  let N = 2u * DIN;
  if (g * rows >= N) { return; } // padding workgroup (whole workgroup)
  for (var k = t; k < D; k += WG) { xsSet(k, acts[HID_OFF + k]); }
  workgroupBarrier();
  let inv = normStatsK(t, 1u, EPS, D).y;
  for (var k = t; k < D; k += WG) { xsSet(k, xsGet(k) * inv * pack[NORM_OFF + k]); }
  workgroupBarrier();
  let slot = t / LANES_IN;
  let lane = t % LANES_IN;
  let row = g * rows + slot;
  let acc = laneSumL(t, laneDotK(0u, min(row, N - 1u), lane, D, LANES_IN, VEC_IN), LANES_IN);
  if (lane == 0u && row < N) {
    var v = acc;
    if (HAS_IN_BIAS) { v += pack[INB_OFF + row]; }
    if (row < DIN) {
      let c = row;
      var a = 0.0;
      if (HAS_CONV_BIAS) { a = pack[CONVB_OFF + c]; }
      for (var j = 0u; j + 1u < KC; j++) {
        let s = convState[j * DIN + c];
        a += pack[CONVW_OFF + c * KC + j] * s;
        if (j > 0u) { convState[(j - 1u) * DIN + c] = s; }
      }
      a += pack[CONVW_OFF + c * KC + KC - 1u] * v;
      if (KC > 1u) { convState[(KC - 2u) * DIN + c] = v; }
      acts[UZ_OFF + c] = silu(a);
    } else {
      acts[UZ_OFF + row] = v;
    }
  }
}

// Stages "x" (x_proj: u → dbc) and "out" (out_proj: y → hidden +=): a plain matvec over K = DIN inputs.
fn stageProj(g: u32, t: u32, isOut: bool) {
  let lanes = select(LANES_X, LANES_OUT, isOut);
  let rows = WG / lanes;
  let N = select(R + 2u * NS, D, isOut);
  if (g * rows >= N) { return; }
  let xOff = select(UZ_OFF, Y_OFF, isOut);
  for (var k = t; k < DIN; k += WG) { xsSet(k, acts[xOff + k]); }
  workgroupBarrier();
  let slot = t / lanes;
  let lane = t % lanes;
  let row = g * rows + slot;
  let acc = laneSumL(t, laneDotK(select(1u, 2u, isOut), min(row, N - 1u), lane, DIN, lanes, VEC_DIN), lanes);
  if (lane == 0u && row < N) {
    if (isOut) {
      var v = acc;
      if (HAS_OUT_BIAS) { v += pack[OUTB_OFF + row]; }
      acts[HID_OFF + row] += v;
    } else {
      acts[DBC_OFF + row] = acc;
    }
  }
}

// Stage "ssm": dt_proj + softplus + SSM step + D skip + SiLU(z) gate.
fn stageSsm(g: u32, t: u32) {
  let c = t / NS;
  let n = t % NS;
  let d = g * CPW + c;
  let live = c < CPW && d < DIN;
  var acc = 0.0;
  if (live) {
    for (var j = n; j < R; j += NS) { acc += dtElem(d * R + j) * acts[DBC_OFF + j]; }
  }
  red[t] = acc;
  workgroupBarrier();
  if (live && n == 0u) {
    var s = pack[DTB_OFF + d];
    for (var i = 0u; i < NS; i++) { s += red[t + i]; }
    dts[c] = softplus(s);
  }
  workgroupBarrier();
  var contrib = 0.0;
  var u = 0.0;
  if (live) {
    let dt = dts[c];
    u = acts[UZ_OFF + d];
    let k = d * NS + n;
    let h = exp(dt * pack[A_OFF + k]) * ssmState[k] + dt * acts[DBC_OFF + R + n] * u;
    ssmState[k] = h;
    contrib = acts[DBC_OFF + R + NS + n] * h;
  }
  red[t] = contrib;
  workgroupBarrier();
  if (live && n == 0u) {
    var s = 0.0;
    for (var i = 0u; i < NS; i++) { s += red[t + i]; }
    acts[Y_OFF + d] = (s + pack[D_OFF + d] * u) * silu(acts[UZ_OFF + DIN + d]);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let G = nwg.x;
  if (G == G_IN) {
    stageIn(wid.x, t);
  } else if (G == G_X) {
    stageProj(wid.x, t, false);
  } else if (G == G_SSM) {
    stageSsm(wid.x, t);
  } else if (G == G_OUT) {
    stageProj(wid.x, t, true);
  }
}
