// ssm_pack_params: packs one Mamba layer's small SSM weights into the buffer every scan kernel reads:
//   w = [A (D·N) | Dskip (D) | deltaBias (D)],  A = −exp(A_log)  (A_log [D, N] row-major, Dskip [D], deltaBias [D]).
// Runs once at load time. Tiling: one thread per output element, 256 per workgroup (1-D).

struct Params {
  D: u32, N: u32, _p0: u32, _p1: u32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ALog: array<f32>;
@group(0) @binding(2) var<storage, read> Dskip: array<f32>;
@group(0) @binding(3) var<storage, read> DBias: array<f32>;
@group(0) @binding(4) var<storage, read_write> W: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let DN = params.D * params.N;
  let i = gid.x;
  if (i < DN) {
    W[i] = -exp(ALog[i]);
  } else if (i < DN + params.D) {
    W[i] = Dskip[i - DN];
  } else if (i < DN + 2u * params.D) {
    W[i] = DBias[i - DN - params.D];
  }
}
