/**
 * One recall probe on a loaded model: build it, generate greedily, score it. The page's worker (Recall lab, Claims)
 * and the CLI (`npm run recall`) both run probes through these, so a number from either means the same thing.
 */
import type { LanguageModel } from '../models/types';
import { buildCopySpan, scoreCopy } from './copyspan';
import { buildMultikey, ProbeDoesNotFit, scoreMultikey, type MultikeyProbe } from './multikey';
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

/** A multikey probe's seed: the same (seed, length, K, trial) gives the same facts and question on every run and model. */
export function multikeySeed(seed: number, length: number, keys: number, trial: number): number {
  return (probeSeed(seed, length, 0, trial) ^ Math.imul(keys, 0x9e3779b1) ^ 0x6d6b) >>> 0;
}

/**
 * The probes of one multikey cell (length L, K facts): `trials` probes from their seeds, or the reason the cell is
 * skipped when the K facts and the question do not fit in L tokens for some trial (the facts' token counts depend on
 * the words and values drawn, so every trial is built before anything runs).
 */
export function multikeyCell(
  tok: TextTokenizer, docIds: number[], length: number, keys: number, seed: number, trials: number,
): { probes: MultikeyProbe[]; skipped: null } | { probes: null; skipped: string; need: number } {
  const probes: MultikeyProbe[] = [];
  let need = 0;
  for (let trial = 0; trial < trials; trial++) {
    try {
      probes.push(buildMultikey(tok, docIds, length, keys, mulberry32(multikeySeed(seed, length, keys, trial))));
    } catch (e) {
      if (!(e instanceof ProbeDoesNotFit)) throw e;
      need = Math.max(need, e.need);
    }
  }
  if (need > 0) return { probes: null, skipped: `K=${keys} facts and the question need up to ${need} tokens; L=${length} is too short`, need };
  return { probes, skipped: null };
}

/** Multikey: greedy answer to the question about one of the K facts; correct when the first number generated (up to
 *  8 tokens) equals the asked value. */
export async function runMultikeyProbe(
  model: LanguageModel, tok: TextTokenizer, q: MultikeyProbe, signal?: AbortSignal,
): Promise<ProbeOutcome & { depth: number; keys: number }> {
  const t = now();
  const g = await model.generate(q.ids, { ...GREEDY, maxNewTokens: 8, signal });
  const output = tok.decode(g.ids);
  const sc = scoreMultikey(output, q.value);
  return { score: sc.correct ? 1 : 0, correct: sc.correct, expected: q.value, output, ms: now() - t, depth: q.depth, keys: q.keys };
}
