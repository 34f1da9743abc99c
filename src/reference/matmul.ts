/** CPU oracle for dense layers: y[m, n] = Σ_k x[m, k] · W[n, k] + bias[n] (PyTorch Linear layout, float64 sums). */

/** x [M, K] row-major, w [N, K] row-major, bias [N] or null → y [M, N]. */
export function linearRef(x: ArrayLike<number>, w: ArrayLike<number>, M: number, K: number, N: number, bias: ArrayLike<number> | null = null): Float32Array {
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s;
    }
  }
  return y;
}

/** Matrix-vector form (M = 1): y[n] = Σ_k W[n, k] · x[k] + bias[n]. */
export function matvecRef(w: ArrayLike<number>, x: ArrayLike<number>, K: number, N: number, bias: ArrayLike<number> | null = null): Float32Array {
  return linearRef(x, w, 1, K, N, bias);
}
