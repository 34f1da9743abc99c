/**
 * Sampling parameters and the candidate-set size rule, shared by the GPU sampler (src/kernels/sampling.ts) and its CPU
 * oracle (src/reference/sampling.ts).
 */

export const SAMPLE_KMAX = 256;

export interface SamplingParams {
  /** > 0 (≤ 0 means greedy argmax). */
  temperature: number;
  /** 0 or undefined: no top-k (but top-p alone uses the 256 best). Values above 256 are capped at 256. */
  topK?: number;
  /** In (0, 1]; 1 or undefined: no top-p. */
  topP?: number;
}

/** The effective k: 0 means the full vocabulary (no truncation). */
export function effectiveK(p: SamplingParams, V: number): number {
  const k = p.topK ?? 0;
  const topP = p.topP ?? 1;
  if (k <= 0 && topP >= 1) return 0;
  return Math.min(k > 0 ? k : SAMPLE_KMAX, SAMPLE_KMAX, V);
}
