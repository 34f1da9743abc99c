/**
 * Passkey / needle-in-a-haystack probe: a random number stated once at a chosen depth of the document, asked for at
 * the end, scored by exact match of the number in the generated answer.
 */
import type { TextTokenizer } from './types';
import { tileTokens } from './haystack';
import { randInt, type Rng } from './rng';

export interface PasskeyProbe {
  ids: number[];
  key: string;
  /** Token index where the needle starts / ends (exclusive). */
  needleStart: number;
  needleEnd: number;
  /** Token index where the question starts (the answer is generated after ids.length). */
  questionStart: number;
  depth: number;
  length: number;
}

export const needleText = (key: string) => `\nThe pass key is ${key}. Remember it. ${key} is the pass key.\n`;
export const QUESTION_TEXT = '\nWhat is the pass key? The pass key is';

/** Smallest length (tokens) that fits the needle, the question and a little haystack. */
export function passkeyMinLength(tok: TextTokenizer): number {
  return tok.encode(needleText('12345')).length + tok.encode(QUESTION_TEXT).length + 8;
}

export function buildPasskey(tok: TextTokenizer, docIds: number[], length: number, depth: number, rng: Rng, digits = 5): PasskeyProbe {
  if (depth < 0 || depth > 1) throw new RangeError(`depth must be in [0, 1], got ${depth}`);
  const key = String(randInt(rng, 10 ** (digits - 1), 10 ** digits - 1));
  const needle = tok.encode(needleText(key));
  const question = tok.encode(QUESTION_TEXT);
  const hayLen = length - needle.length - question.length;
  if (hayLen < 8) {
    throw new RangeError(`A passkey probe needs at least ${needle.length + question.length + 8} tokens; asked for ${length}`);
  }
  const hay = tileTokens(docIds, hayLen, tok.encode('\n\n'));
  const at = Math.round(depth * hayLen);
  const ids = [...hay.slice(0, at), ...needle, ...hay.slice(at), ...question];
  return { ids, key, needleStart: at, needleEnd: at + needle.length, questionStart: length - question.length, depth, length };
}

/** Exact match: the first number in the answer must equal the key. */
export function scorePasskey(output: string, key: string): { correct: boolean; extracted: string } {
  const m = output.match(/\d+/);
  const extracted = m ? m[0] : '';
  return { correct: extracted === key, extracted };
}
