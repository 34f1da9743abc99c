import { describe, expect, it } from 'vitest';
import { buildPasskey, passkeyMinLength, scorePasskey, needleText, QUESTION_TEXT } from '../../src/recall/passkey';
import { buildCopySpan, copyMinLength, scoreCopy } from '../../src/recall/copyspan';
import { contextLengths, tileTokens } from '../../src/recall/haystack';
import { mulberry32 } from '../../src/recall/rng';
import { charTokenizer as tok } from './fake-tokenizer';

const doc = 'It was a bright cold day in April, and the clocks were striking thirteen. '.repeat(3);
const docIds = tok.encode(doc);

describe('haystack', () => {
  it('tiles the document with a separator to the exact length', () => {
    const ids = tileTokens([1, 2, 3], 8, [0]);
    expect(ids).toEqual([1, 2, 3, 0, 1, 2, 3, 0]);
    expect(tileTokens([1, 2], 0)).toEqual([]);
    expect(() => tileTokens([], 4)).toThrow(/no tokens/);
  });
  it('makes geometric context lengths including the max', () => {
    expect(contextLengths(256, 2048)).toEqual([256, 512, 1024, 2048]);
    expect(contextLengths(256, 3000)).toEqual([256, 512, 1024, 2048, 3000]);
    expect(contextLengths(0, 10)).toEqual([]);
  });
});

describe('passkey probe', () => {
  it.each([0, 0.25, 0.5, 1])('has the exact length with the needle at depth %f', (depth) => {
    const length = 777;
    const p = buildPasskey(tok, docIds, length, depth, mulberry32(7));
    expect(p.ids.length).toBe(length);
    expect(p.key).toMatch(/^\d{5}$/);
    const text = tok.decode(p.ids);
    expect(text.endsWith(QUESTION_TEXT)).toBe(true);
    expect(tok.decode(p.ids.slice(p.needleStart, p.needleEnd))).toBe(needleText(p.key));
    const hay = length - (p.needleEnd - p.needleStart) - QUESTION_TEXT.length;
    expect(p.needleStart).toBe(Math.round(depth * hay));
    expect(p.questionStart).toBe(length - QUESTION_TEXT.length);
  });
  it('is reproducible from the seed and differs across seeds', () => {
    const a = buildPasskey(tok, docIds, 300, 0.5, mulberry32(1));
    const b = buildPasskey(tok, docIds, 300, 0.5, mulberry32(1));
    const c = buildPasskey(tok, docIds, 300, 0.5, mulberry32(2));
    expect(a.ids).toEqual(b.ids);
    expect(a.key).not.toBe(c.key);
  });
  it('refuses lengths too short for the needle and question, naming the minimum', () => {
    const min = passkeyMinLength(tok);
    expect(() => buildPasskey(tok, docIds, min - 1, 0.5, mulberry32(1))).toThrow(new RegExp(`at least ${min}`));
    expect(buildPasskey(tok, docIds, min, 0.5, mulberry32(1)).ids.length).toBe(min);
    expect(() => buildPasskey(tok, docIds, 500, 1.5, mulberry32(1))).toThrow(/depth/);
  });
  it('scores by exact match of the first number', () => {
    expect(scorePasskey(' 48213. Remember', '48213')).toEqual({ correct: true, extracted: '48213' });
    expect(scorePasskey(' 4821', '48213').correct).toBe(false);
    expect(scorePasskey(' 482134', '48213').correct).toBe(false);
    expect(scorePasskey(' the key', '48213')).toEqual({ correct: false, extracted: '' });
  });
});

describe('copy-span probe', () => {
  it.each([0, 0.5, 1])('repeats the prefix of a span at depth %f and expects its continuation', (depth) => {
    const length = 200;
    const p = buildCopySpan(docIds, length, depth, { prefixLen: 10, contLen: 12 });
    expect(p.ids.length).toBe(length);
    expect(p.expected.length).toBe(12);
    const ctx = p.ids.slice(0, length - 10);
    expect(p.ids.slice(length - 10)).toEqual(ctx.slice(p.spanStart, p.spanStart + 10));
    expect(p.expected).toEqual(ctx.slice(p.spanStart + 10, p.spanStart + 22));
    expect(p.spanStart).toBe(Math.round(depth * (ctx.length - 22)));
  });
  it('refuses lengths below the minimum', () => {
    expect(() => buildCopySpan(docIds, copyMinLength() - 1, 0.5)).toThrow(/at least/);
  });
  it('scores exact-match tokens position by position', () => {
    expect(scoreCopy([1, 2, 3, 4], [1, 2, 3, 4])).toEqual({ score: 1, matched: 4, prefixMatched: 4 });
    expect(scoreCopy([1, 9, 3, 4], [1, 2, 3, 4])).toEqual({ score: 0.75, matched: 3, prefixMatched: 1 });
    expect(scoreCopy([1, 2], [1, 2, 3, 4])).toEqual({ score: 0.5, matched: 2, prefixMatched: 2 });
  });
});
