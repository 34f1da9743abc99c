// activations_lib: SiLU and torch's softplus as the elementwise, decode and Mamba-2 kernels compute them
// (elementwise.wgsl, delta_mean.wgsl, mamba_decode_*.wgsl, mamba2_decode_*.wgsl, ssd_*.wgsl). Not a kernel: they
// `#include` it. (The Mamba-1 scan passes and ssm_step use ssm_lib.wgsl's softplus, a shorter series; both are within
// the kernels' tolerances.)

fn silu(v: f32) -> f32 {
  return v / (1.0 + exp(-v));
}

// log(1 + e) for e in (0, 1]: a series below 0.25 (relative accuracy where log(1 + e) ≈ e), else log.
fn log1pSmall(e: f32) -> f32 {
  if (e < 0.25) {
    var p = 1.0 / 11.0;
    p = 1.0 / 10.0 - e * p; p = 1.0 / 9.0 - e * p; p = 1.0 / 8.0 - e * p; p = 1.0 / 7.0 - e * p;
    p = 1.0 / 6.0 - e * p; p = 1.0 / 5.0 - e * p; p = 1.0 / 4.0 - e * p; p = 1.0 / 3.0 - e * p;
    p = 1.0 / 2.0 - e * p; p = 1.0 - e * p;
    return e * p;
  }
  return log(1.0 + e);
}

// torch.nn.functional.softplus (threshold 20): Δ is often ~1e-3, where log(1 + eᵛ) in f32 would lose digits.
fn softplus(v: f32) -> f32 {
  if (v > 20.0) { return v; }
  return max(v, 0.0) + log1pSmall(exp(-abs(v)));
}
