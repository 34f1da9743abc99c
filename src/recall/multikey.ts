/**
 * Multi-key capacity probe: K key-value facts spread through the document, one of them asked at the end, scored by
 * exact match of the number in the answer. Passkey tests forgetting by distance (one fact, far away); this tests
 * forgetting by capacity (many facts to hold at once), where a fixed-size state and attention are expected to differ.
 *
 * The format is shared with the training task of tools/train_demo.py; do not change it on one side only:
 *   keys    K distinct words of multikey-words.json ("words"), sampled without replacement;
 *   values  a uniform random integer in [1000, 9999] per key;
 *   facts   "\nThe code for {key} is {value}.\n", inserted at sorted uniform random depths of the haystack;
 *   asked   one of the K keys, uniformly at random;
 *   prompt  ends with "\nWhat is the code for {key}? The code for {key} is"; the model generates the answer.
 *
 * Glossary: K = number of facts (keys); L = probe length in tokens; haystack = the tiled document filling the rest.
 */
import wordList from './multikey-words.json';
import { tileTokens } from './haystack';
import { randInt, type Rng } from './rng';
import type { TextTokenizer } from './types';

export const MULTIKEY_WORDS: readonly string[] = wordList.words;
export const MULTIKEY_VALUE_MIN = 1000;
export const MULTIKEY_VALUE_MAX = 9999;

export const factText = (key: string, value: string) => `\nThe code for ${key} is ${value}.\n`;
export const multikeyQuestion = (key: string) => `\nWhat is the code for ${key}? The code for ${key} is`;

export interface MultikeyProbe {
  ids: number[];
  /** K: number of facts in the document. */
  keys: number;
  /** Every fact, in document order: key, value, token span [start, end). */
  facts: { key: string; value: string; start: number; end: number }[];
  /** Index into `facts` of the fact asked for. */
  asked: number;
  /** The asked key and its value (the expected answer). */
  key: string;
  value: string;
  /** Token index where the question starts (the answer is generated after ids.length). */
  questionStart: number;
  /** Where the asked fact starts, as a fraction of the haystack (0 = start of the document, 1 = next to the question). */
  depth: number;
  length: number;
}

/** Thrown when K facts and the question do not fit in the length: a cell to skip, not a model failure. */
export class ProbeDoesNotFit extends RangeError {
  readonly code = 'does-not-fit';
  constructor(
    message: string,
    /** Tokens the facts and the question need. */
    readonly need: number,
  ) {
    super(message);
    this.name = 'ProbeDoesNotFit';
  }
}

/** K distinct words, sampled without replacement (partial Fisher-Yates over the word list). */
export function sampleKeys(rng: Rng, k: number, words: readonly string[] = MULTIKEY_WORDS): string[] {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`K (the number of facts) must be a positive integer, got ${k}`);
  if (k > words.length) throw new RangeError(`K = ${k} facts need ${k} distinct keys; the word list has ${words.length}`);
  const pool = [...words];
  for (let i = 0; i < k; i++) {
    const j = randInt(rng, i, pool.length - 1);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, k);
}

/**
 * Builds one probe of exactly `length` tokens. Draw order from `rng` (fixed, so a seed gives the same probe on every
 * run and model): the K keys, then K values, then K depths (sorted), then the asked index.
 * Throws ProbeDoesNotFit when the K facts and the question need more than `length` tokens.
 */
export function buildMultikey(tok: TextTokenizer, docIds: number[], length: number, k: number, rng: Rng): MultikeyProbe {
  const keys = sampleKeys(rng, k);
  const values = keys.map(() => String(randInt(rng, MULTIKEY_VALUE_MIN, MULTIKEY_VALUE_MAX)));
  const depths = keys.map(() => rng()).sort((a, b) => a - b);
  const asked = randInt(rng, 0, k - 1);
  const factIds = keys.map((key, i) => tok.encode(factText(key, values[i])));
  const question = tok.encode(multikeyQuestion(keys[asked]));
  const need = factIds.reduce((s, f) => s + f.length, 0) + question.length;
  const hayLen = length - need;
  if (hayLen < 0) {
    throw new ProbeDoesNotFit(`K = ${k} facts and the question need ${need} tokens; the probe length is ${length}`, need);
  }
  const hay = hayLen > 0 ? tileTokens(docIds, hayLen, tok.encode('\n\n')) : [];
  const ids: number[] = [];
  const facts: MultikeyProbe['facts'] = [];
  let from = 0;
  for (let i = 0; i < k; i++) {
    const at = Math.round(depths[i] * hayLen);
    for (let j = from; j < at; j++) ids.push(hay[j]);
    from = at;
    const start = ids.length;
    for (const t of factIds[i]) ids.push(t);
    facts.push({ key: keys[i], value: values[i], start, end: ids.length });
  }
  for (let j = from; j < hayLen; j++) ids.push(hay[j]);
  const questionStart = ids.length;
  for (const t of question) ids.push(t);
  return {
    ids, keys: k, facts, asked, key: keys[asked], value: values[asked], questionStart,
    depth: hayLen > 0 ? Math.round(depths[asked] * hayLen) / hayLen : 1, length,
  };
}

/** Exact match: the first number in the answer must equal the asked value (the same rule as scorePasskey). */
export function scoreMultikey(output: string, value: string): { correct: boolean; extracted: string } {
  const m = output.match(/\d+/);
  const extracted = m ? m[0] : '';
  return { correct: extracted === value, extracted };
}
