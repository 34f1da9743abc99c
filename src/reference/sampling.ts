/**
 * CPU oracle for next-token selection, mirroring shaders/sample_partial.wgsl + sample_final.wgsl: the same candidate
 * set (top-k with ties to the lowest index, k capped at SAMPLE_KMAX when any truncation is used), the same
 * temperature softmax, the same top-p rule (HF TopPLogitsWarper: keep j while Σ_{i<j} p_i < top_p, ≥ 1 token) and
 * the same inverse-CDF draw from a uniform u (first candidate whose cumulative mass exceeds u · total), in float64.
 */

import { effectiveK, type SamplingParams } from '../math/sampling';

const clean = (v: number) => (Number.isNaN(v) ? -Infinity : v);

/** Index of the largest logit, lowest index on ties, NaN as −inf. */
export function argmaxRef(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (clean(logits[i]) > clean(logits[best])) best = i;
  return best;
}

/** Candidates in draw order with their (unnormalised) probabilities after top-k/top-p. */
export function samplingCandidates(logits: ArrayLike<number>, p: SamplingParams): { ids: number[]; probs: number[] } {
  const V = logits.length;
  if (p.temperature <= 0 || p.topK === 1) return { ids: [argmaxRef(logits)], probs: [1] };
  const k = effectiveK(p, V);
  const inv = 1 / p.temperature;
  if (k === 0) {
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, clean(logits[i]));
    const ids = [...Array(V).keys()];
    return { ids, probs: ids.map((i) => Math.exp((clean(logits[i]) - m) * inv)) };
  }
  const order = [...Array(V).keys()].sort((a, b) => clean(logits[b]) - clean(logits[a]) || a - b).slice(0, k);
  const m = clean(logits[order[0]]);
  const probs = order.map((i) => Math.exp((clean(logits[i]) - m) * inv));
  const total = probs.reduce((s, x) => s + x, 0);
  const topP = p.topP ?? 1;
  let keep = 0;
  let excl = 0;
  for (let j = 0; j < k; j++) {
    if (excl < topP * total) keep = j + 1;
    excl += probs[j];
  }
  keep = Math.max(keep, 1);
  return { ids: order.slice(0, keep), probs: probs.slice(0, keep) };
}

/** The normalised distribution over the vocabulary that the sampler draws from. */
export function samplingProbs(logits: ArrayLike<number>, p: SamplingParams): Float64Array {
  const { ids, probs } = samplingCandidates(logits, p);
  const total = probs.reduce((s, x) => s + x, 0);
  const out = new Float64Array(logits.length);
  ids.forEach((id, j) => (out[id] = probs[j] / total));
  return out;
}

/** The token drawn with uniform u ∈ [0, 1). */
export function sampleRef(logits: ArrayLike<number>, p: SamplingParams, u: number): number {
  const { ids, probs } = samplingCandidates(logits, p);
  const total = probs.reduce((s, x) => s + x, 0);
  const target = u * total;
  let cum = 0;
  for (let j = 0; j < ids.length; j++) {
    cum += probs[j];
    if (cum > target) return ids[j];
  }
  for (let j = ids.length - 1; j >= 0; j--) if (probs[j] > 0) return ids[j];
  return ids[ids.length - 1];
}

function pcg(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** The uniform the shader derives from (seed, step): pcg(seed ^ pcg(step)) >> 8, over 2²⁴. */
export function hashUniform(seed: number, step: number): number {
  return (pcg((seed ^ pcg(step >>> 0)) >>> 0) >>> 8) / 16777216;
}
