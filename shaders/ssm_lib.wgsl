// ssm_lib: the activations the Mamba SSM kernels share (the selective scan passes, the lab's scan forms, ssm_step).
// Not a kernel: they `#include` it.
//   softplus(x) = log(1 + eˣ), x itself above 20 (torch's threshold); log1p(e) by its series for small e, since WGSL's
//   log is only absolutely accurate near 1.
//   silu(x) = x · sigmoid(x).

fn softplus(x: f32) -> f32 {
  let e = exp(min(x, 20.0));
  let series = e * (1.0 - e * (0.5 - e * (0.33333334 - e * (0.25 - e * (0.2 - e * (0.16666667 - e * 0.14285715))))));
  let r = select(log(1.0 + e), series, e < 0.0625);
  return select(r, x, x > 20.0);
}

fn silu(x: f32) -> f32 {
  return x / (1.0 + exp(-x));
}
