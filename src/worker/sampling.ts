/** CPU sampling from a logits row (the interleaved compare mode reads logits back each step). */
import type { SamplingOptions } from '../models/types';
import type { Rng } from '../recall/rng';

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

export function sampleLogits(logits: Float32Array, opts: SamplingOptions, rng: Rng): number {
  if (!(opts.temperature > 0)) return argmax(logits);
  const V = logits.length;
  let idx = Array.from({ length: V }, (_, i) => i);
  if (opts.topK > 0 && opts.topK < V) {
    idx.sort((a, b) => logits[b] - logits[a]);
    idx = idx.slice(0, opts.topK);
  }
  let max = -Infinity;
  for (const i of idx) max = Math.max(max, logits[i]);
  let probs = idx.map((i) => Math.exp((logits[i] - max) / opts.temperature));
  if (opts.topP > 0 && opts.topP < 1) {
    const order = probs.map((p, j) => [p, j] as const).sort((a, b) => b[0] - a[0]);
    const total = probs.reduce((s, p) => s + p, 0);
    let acc = 0;
    const keep: number[] = [];
    for (const [p, j] of order) {
      keep.push(j);
      acc += p / total;
      if (acc >= opts.topP) break;
    }
    idx = keep.map((j) => idx[j]);
    probs = keep.map((j) => probs[j]);
  }
  const total = probs.reduce((s, p) => s + p, 0);
  let r = rng() * total;
  for (let j = 0; j < idx.length; j++) {
    r -= probs[j];
    if (r <= 0) return idx[j];
  }
  return idx[idx.length - 1];
}
