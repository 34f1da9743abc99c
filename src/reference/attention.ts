/**
 * CPU oracle for causal multi-head attention over a KV cache (the reference, flash and decode kernels).
 *
 * q: [H, L, hd] for queries at positions pos0..pos0+L-1. kCache, vCache: [H, maxLen, hd]; rows 0..pos0+L-1 hold
 * keys/values. Query i (position pos0+i) attends to keys 0..pos0+i with scale 1/sqrt(hd).
 * Output: merged heads [L, H*hd] (head h at columns h*hd). float64 accumulation.
 */

export interface AttentionShape {
  H: number;
  hd: number;
  L: number;
  pos0: number;
  maxLen: number;
}

export function attentionReference(q: Float32Array, kCache: Float32Array, vCache: Float32Array, s: AttentionShape): Float32Array {
  const { H, hd, L, pos0, maxLen } = s;
  if (q.length < H * L * hd) throw new Error(`attentionReference: q has ${q.length} floats, want ${H * L * hd}`);
  if (pos0 + L > maxLen) throw new Error(`attentionReference: pos0 + L = ${pos0 + L} > maxLen ${maxLen}`);
  const scale = 1 / Math.sqrt(hd);
  const out = new Float32Array(L * H * hd);
  const scores = new Float64Array(pos0 + L);
  const acc = new Float64Array(hd);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < L; i++) {
      const nk = pos0 + i + 1;
      const qo = (h * L + i) * hd;
      let m = -Infinity;
      for (let j = 0; j < nk; j++) {
        const ko = (h * maxLen + j) * hd;
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += q[qo + d] * kCache[ko + d];
        scores[j] = dot * scale;
        if (scores[j] > m) m = scores[j];
      }
      let sum = 0;
      acc.fill(0);
      for (let j = 0; j < nk; j++) {
        const p = Math.exp(scores[j] - m);
        sum += p;
        const vo = (h * maxLen + j) * hd;
        for (let d = 0; d < hd; d++) acc[d] += p * vCache[vo + d];
      }
      for (let d = 0; d < hd; d++) out[i * H * hd + h * hd + d] = acc[d] / sum;
    }
  }
  return out;
}

/** Decode: one query per head (q [H, hd]) at position pos attends to cache rows 0..pos. Output [H*hd]. */
export function decodeAttentionReference(q: Float32Array, kCache: Float32Array, vCache: Float32Array, s: { H: number; hd: number; pos: number; maxLen: number }): Float32Array {
  return attentionReference(q, kCache, vCache, { H: s.H, hd: s.hd, L: 1, pos0: s.pos, maxLen: s.maxLen });
}
