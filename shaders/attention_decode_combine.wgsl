// attention_decode_combine (decode attention, pass 2 of 2): merges the nsplit partial results of each head
// (log-sum-exp rescaling): M = max_s m_s, out = sum_s exp(m_s - M) acc_s / sum_s exp(m_s - M) l_s.
// Layout: part [H, nsplit, HD4 + 1] vec4s (see attention_decode_split); out [H*hd] (merged heads) at vec4 index oOffset4.
// Tiling: one workgroup of 64 threads per head, each thread on vec4 columns t, t+64, ...; every thread loops over
//   the splits itself (nsplit is small). HD4 is a const the wrapper sets. Grid: (H).

struct Params {
  nsplit: u32,
  oOffset4: u32,
  _b: u32,
  _c: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> part: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let h = wg.x;
  let ns = params.nsplit;
  let stride = HD4 + 1u;
  let hb = h * ns * stride;
  var M = -3.0e38;
  for (var s = 0u; s < ns; s++) { M = max(M, part[hb + s * stride + HD4].x); }
  var lsum = 0.0;
  for (var s = 0u; s < ns; s++) {
    let ml = part[hb + s * stride + HD4];
    lsum += exp(ml.x - M) * ml.y;
  }
  let inv = 1.0 / lsum;
  for (var d = t; d < HD4; d += 64u) {
    var acc = vec4<f32>(0.0);
    for (var s = 0u; s < ns; s++) {
      acc += exp(part[hb + s * stride + HD4].x - M) * part[hb + s * stride + d];
    }
    out[params.oOffset4 + h * HD4 + d] = acc * inv;
  }
}
