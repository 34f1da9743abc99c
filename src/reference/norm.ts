/** CPU oracles for the row norms (float64 statistics). x is [L, d] row-major. */

export function rmsnormRef(x: ArrayLike<number>, w: ArrayLike<number>, L: number, d: number, eps: number): Float32Array {
  const y = new Float32Array(L * d);
  for (let t = 0; t < L; t++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[t * d + i] ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) y[t * d + i] = x[t * d + i] * inv * w[i];
  }
  return y;
}

export function layernormRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, L: number, d: number, eps: number): Float32Array {
  const y = new Float32Array(L * d);
  for (let t = 0; t < L; t++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += x[t * d + i];
    const mean = s / d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[t * d + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / d + eps);
    for (let i = 0; i < d; i++) y[t * d + i] = (x[t * d + i] - mean) * inv * w[i] + b[i];
  }
  return y;
}

/** The fused form: returns [new residual = r + x, norm(new residual)]. */
export function addNormRef(x: ArrayLike<number>, r: ArrayLike<number>, norm: (v: Float32Array) => Float32Array): [Float32Array, Float32Array] {
  const s = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) s[i] = r[i] + x[i];
  return [s, norm(s)];
}
