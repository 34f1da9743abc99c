/**
 * CPU oracles for the selectivity-view kernels (shaders/delta_mean.wgsl, shaders/attention_row_probs.wgsl), float64.
 */
import { softplus } from './scan';

/** out[t] = mean_c softplus(delta[t, c] + bias[c]); delta is [L, D] row-major. */
export function deltaMeanRef(delta: ArrayLike<number>, bias: ArrayLike<number>, L: number, D: number): Float32Array {
  const out = new Float32Array(L);
  for (let t = 0; t < L; t++) {
    let s = 0;
    for (let c = 0; c < D; c++) s += softplus(delta[t * D + c] + bias[c]);
    out[t] = s / D;
  }
  return out;
}

export interface RowProbsShape {
  H: number;
  hd: number;
  /** Keys 0..n−1 (the query is the token at position n − 1). */
  n: number;
  maxLen: number;
  /** q of head h at q[qOff + h·qHeadStride + d]. */
  qOff: number;
  qHeadStride: number;
}

/** out[j] = mean_h softmax_j(q_h · k_{h,j} / √hd) over j < n; kCache is [H, maxLen, hd]. */
export function attentionRowProbsRef(q: ArrayLike<number>, kCache: ArrayLike<number>, s: RowProbsShape): Float32Array {
  const { H, hd, n, maxLen } = s;
  const out = new Float64Array(n);
  const scale = 1 / Math.sqrt(hd);
  for (let h = 0; h < H; h++) {
    const sc = new Float64Array(n);
    let m = -Infinity;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let d = 0; d < hd; d++) dot += q[s.qOff + h * s.qHeadStride + d] * kCache[(h * maxLen + j) * hd + d];
      sc[j] = dot * scale;
      m = Math.max(m, sc[j]);
    }
    let z = 0;
    for (let j = 0; j < n; j++) z += Math.exp(sc[j] - m);
    for (let j = 0; j < n; j++) out[j] += Math.exp(sc[j] - m) / z / H;
  }
  return Float32Array.from(out);
}
