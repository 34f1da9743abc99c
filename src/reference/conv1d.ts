/**
 * CPU oracle for Mamba's causal depthwise conv1d (PyTorch Conv1d(groups=D, padding=K−1) truncated to the first L
 * outputs) with bias and optional SiLU, plus its decode step.
 *   out[t, d] = act(bias[d] + Σ_{k<K} w[d, k] · x[t − (K−1) + k, d])
 * where x at negative positions comes from the conv state (or is zero without one).
 * Weight layout [D, K] (HF's [D, 1, K] flattened). Conv state layout (ours): [K−1, D] token-major, row j holds the
 * input of position −(K−1)+j relative to the next token, oldest first (so row K−2 is the most recent input).
 */
import { silu, type View } from './scan';

export interface Conv1dRefInputs {
  L: number;
  D: number;
  K: number;
  x: View; // [L, D]
  weight: ArrayLike<number>; // [D, K]
  bias?: ArrayLike<number>; // [D]
  state?: ArrayLike<number>; // [K−1, D] initial state; zeros when absent
  silu?: boolean;
}

export interface Conv1dRefOutputs {
  out: Float32Array; // [L, D] dense
  state: Float32Array; // [K−1, D] state after the L inputs
}

export function causalConv1dRef(p: Conv1dRefInputs): Conv1dRefOutputs {
  const { L, D, K } = p;
  const xAt = (s: number, d: number): number => {
    if (s >= 0) return p.x.data[(p.x.offset ?? 0) + s * p.x.rowStride + d];
    const row = s + (K - 1);
    return p.state && row >= 0 ? p.state[row * D + d] : 0;
  };
  const out = new Float32Array(L * D);
  for (let t = 0; t < L; t++) {
    for (let d = 0; d < D; d++) {
      let acc = p.bias ? p.bias[d] : 0;
      for (let k = 0; k < K; k++) acc += p.weight[d * K + k] * xAt(t - (K - 1) + k, d);
      out[t * D + d] = p.silu ? silu(acc) : acc;
    }
  }
  const state = new Float32Array((K - 1) * D);
  for (let j = 0; j < K - 1; j++) for (let d = 0; d < D; d++) state[j * D + d] = xAt(L - (K - 1) + j, d);
  return { out, state };
}
