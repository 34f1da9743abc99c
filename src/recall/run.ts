/**
 * One recall probe on a loaded model: build it, generate greedily, score it. The page's worker (Recall lab, Claims)
 * and the CLI (`npm run recall`) both run probes through these, so a number from either means the same thing.
 */
import type { LanguageModel } from '../models/types';
import { buildCopySpan, scoreCopy } from './copyspan';
import { buildPasskey, scorePasskey } from './passkey';
import { mulberry32 } from './rng';
import type { TextTokenizer } from './types';

const now = () => (globalThis.performance ?? Date).now();
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };

export interface ProbeOutcome {
  /** 0..1: passkey exact match (0/1); copy: fraction of continuation tokens matched exactly. */
  score: number;
  correct: boolean;
  expected: string;
  output: string;
  ms: number;
}

/** The probe's seed: the same (seed, length, depth, trial) gives the same key / span on every run and model. */
export function probeSeed(seed: number, length: number, depth: number, trial: number): number {
  return (seed * 1_000_003 + length * 7919 + Math.round(depth * 1000) * 131 + trial) >>> 0;
}

/** Passkey: a random 5-digit key at `depth` of a `length`-token haystack; correct when the first number generated
 *  (up to 10 tokens) equals the key. */
export async function runPasskeyProbe(
  model: LanguageModel, tok: TextTokenizer, docIds: number[], length: number, depth: number, seed: number, signal?: AbortSignal,
): Promise<ProbeOutcome> {
  const t = now();
  const q = buildPasskey(tok, docIds, length, depth, mulberry32(seed));
  const g = await model.generate(q.ids, { ...GREEDY, maxNewTokens: 10, signal });
  const output = tok.decode(g.ids);
  const sc = scorePasskey(output, q.key);
  return { score: sc.correct ? 1 : 0, correct: sc.correct, expected: q.key, output, ms: now() - t };
}

/** Copy-span: the prefix of a span at `depth` is repeated at the end; score = fraction of the next tokens matched. */
export async function runCopyProbe(
  model: LanguageModel, tok: TextTokenizer, docIds: number[], length: number, depth: number, signal?: AbortSignal,
): Promise<ProbeOutcome> {
  const t = now();
  const q = buildCopySpan(docIds, length, depth, { separator: tok.encode('\n\n') });
  const g = await model.generate(q.ids, { ...GREEDY, maxNewTokens: q.expected.length, signal });
  const sc = scoreCopy(g.ids, q.expected);
  return { score: sc.score, correct: sc.score === 1, expected: tok.decode(q.expected), output: tok.decode(g.ids), ms: now() - t };
}
