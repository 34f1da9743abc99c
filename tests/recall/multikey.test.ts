import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/hub/tokenizer';
import { tileTokens } from '../../src/recall/haystack';
import {
  buildMultikey, factText, MULTIKEY_WORDS, multikeyQuestion, ProbeDoesNotFit, sampleKeys, scoreMultikey,
} from '../../src/recall/multikey';
import { mulberry32 } from '../../src/recall/rng';
import { multikeyCell, multikeySeed } from '../../src/recall/run';
import type { TextTokenizer } from '../../src/recall/types';
import { charTokenizer as tok } from './fake-tokenizer';

const doc = 'It was a bright cold day in April, and the clocks were striking thirteen. '.repeat(3);
const docIds = tok.encode(doc);

/** Every fact's text at its span, the question at the end, and the rest is exactly the tiled document. */
function checkLayout(t: TextTokenizer, ids: number[], p: ReturnType<typeof buildMultikey>, hayDoc: number[]) {
  expect(ids.length).toBe(p.length);
  expect(t.decode(ids.slice(p.questionStart))).toBe(multikeyQuestion(p.key));
  let hay: number[] = [];
  let from = 0;
  for (const f of p.facts) {
    expect(f.start).toBeGreaterThanOrEqual(from);
    expect(t.decode(ids.slice(f.start, f.end))).toBe(factText(f.key, f.value));
    hay = hay.concat(ids.slice(from, f.start));
    from = f.end;
  }
  hay = hay.concat(ids.slice(from, p.questionStart));
  expect(hay).toEqual(tileTokens(hayDoc, hay.length, t.encode('\n\n')));
}

describe('multikey probe', () => {
  it.each([1, 4, 16])('lays out K=%i facts, the question and the haystack in exactly L tokens', (k) => {
    const length = 1500;
    const p = buildMultikey(tok, docIds, length, k, mulberry32(11));
    expect(p.keys).toBe(k);
    expect(p.facts).toHaveLength(k);
    expect(new Set(p.facts.map((f) => f.key)).size).toBe(k);
    for (const f of p.facts) {
      expect(MULTIKEY_WORDS).toContain(f.key);
      expect(f.value).toMatch(/^\d{4}$/);
      expect(Number(f.value)).toBeGreaterThanOrEqual(1000);
      expect(Number(f.value)).toBeLessThanOrEqual(9999);
    }
    expect(p.key).toBe(p.facts[p.asked].key);
    expect(p.value).toBe(p.facts[p.asked].value);
    checkLayout(tok, p.ids, p, docIds);
    expect(tok.decode(p.ids).endsWith(`\nWhat is the code for ${p.key}? The code for ${p.key} is`)).toBe(true);
    expect(p.depth).toBeGreaterThanOrEqual(0);
    expect(p.depth).toBeLessThanOrEqual(1);
  });

  it('is reproducible from the seed and differs across seeds', () => {
    const a = buildMultikey(tok, docIds, 800, 8, mulberry32(3));
    const b = buildMultikey(tok, docIds, 800, 8, mulberry32(3));
    const c = buildMultikey(tok, docIds, 800, 8, mulberry32(4));
    expect(a.ids).toEqual(b.ids);
    expect(a.facts).toEqual(b.facts);
    expect(c.facts.map((f) => f.key + f.value)).not.toEqual(a.facts.map((f) => f.key + f.value));
  });

  it('draws keys without replacement, values, depths and the asked key uniformly', () => {
    const n = 3000;
    const askedCount = [0, 0, 0, 0];
    const wordCount = new Map<string, number>();
    let depthSum = 0;
    let valueSum = 0;
    for (let s = 0; s < n; s++) {
      const p = buildMultikey(tok, docIds, 600, 4, mulberry32(1000 + s));
      askedCount[p.asked]++;
      depthSum += p.depth;
      for (const f of p.facts) {
        wordCount.set(f.key, (wordCount.get(f.key) ?? 0) + 1);
        valueSum += Number(f.value);
      }
    }
    for (const c of askedCount) expect(Math.abs(c / n - 0.25)).toBeLessThan(0.035); // ~4.4 sigma
    expect(Math.abs(depthSum / n - 0.5)).toBeLessThan(0.03);
    expect(Math.abs(valueSum / (4 * n) - 5499.5)).toBeLessThan(120);
    // 12000 draws over 359 words: every word shows up, none far more often than the rest
    expect(wordCount.size).toBe(MULTIKEY_WORDS.length);
    expect(Math.max(...wordCount.values())).toBeLessThan(3 * (4 * n) / MULTIKEY_WORDS.length);
  });

  it('samples K distinct words and refuses impossible K', () => {
    const keys = sampleKeys(mulberry32(5), MULTIKEY_WORDS.length);
    expect(new Set(keys).size).toBe(MULTIKEY_WORDS.length);
    expect(() => sampleKeys(mulberry32(5), MULTIKEY_WORDS.length + 1)).toThrow(/distinct keys/);
    expect(() => sampleKeys(mulberry32(5), 0)).toThrow(/positive integer/);
    expect(() => sampleKeys(mulberry32(5), 2.5)).toThrow(/positive integer/);
  });

  it('refuses a length that cannot hold the K facts and the question, saying how many tokens they need', () => {
    let err: unknown;
    try {
      buildMultikey(tok, docIds, 200, 8, mulberry32(2));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProbeDoesNotFit);
    const need = (err as ProbeDoesNotFit).need;
    expect((err as Error).message).toMatch(new RegExp(`K = 8 facts and the question need ${need} tokens; the probe length is 200`));
    // exactly `need` tokens fits, with no haystack at all
    const p = buildMultikey(tok, docIds, need, 8, mulberry32(2));
    expect(p.ids.length).toBe(need);
    checkLayout(tok, p.ids, p, docIds);
  });

  it('scores by exact match of the first number', () => {
    expect(scoreMultikey(' 4821.', '4821')).toEqual({ correct: true, extracted: '4821' });
    expect(scoreMultikey(' 48213', '4821').correct).toBe(false);
    expect(scoreMultikey(' 482', '4821').correct).toBe(false);
    expect(scoreMultikey(' the code', '4821')).toEqual({ correct: false, extracted: '' });
    expect(scoreMultikey(' 1 2 3 4', '1234').correct).toBe(false);
  });
});

describe('multikey cells (what the page and the CLI run)', () => {
  it('builds one probe per trial from distinct seeds, or skips the whole cell with the reason', () => {
    const c = multikeyCell(tok, docIds, 1200, 4, 1, 6);
    expect(c.skipped).toBeNull();
    expect(c.probes).toHaveLength(6);
    expect(new Set(c.probes!.map((p) => p.facts.map((f) => f.key + f.value).join()))).toHaveProperty('size', 6);
    expect(c.probes![0].ids).toEqual(buildMultikey(tok, docIds, 1200, 4, mulberry32(multikeySeed(1, 1200, 4, 0))).ids);
    const s = multikeyCell(tok, docIds, 300, 16, 1, 3);
    expect(s.probes).toBeNull();
    expect(s.skipped).toMatch(/K=16 facts and the question need up to \d+ tokens; L=300 is too short/);
    expect(multikeySeed(1, 512, 4, 0)).not.toBe(multikeySeed(1, 512, 16, 0));
    expect(multikeySeed(1, 512, 4, 0)).not.toBe(multikeySeed(1, 1024, 4, 0));
  });

  it('tokenizes with the demo pair BPE tokenizer: each fact and the question round-trip, L tokens exactly', () => {
    const dir = 'public/models/demo-mamba';
    const bpe = loadTokenizer(JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8')), JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8')));
    const t: TextTokenizer = { encode: (s) => bpe.encode(s, { addSpecialTokens: false }), decode: (ids) => bpe.decode(ids) };
    const text = readFileSync('public/docs/harbour-ledger.txt', 'utf8');
    const ids = t.encode(text);
    const c = multikeyCell(t, ids, 1024, 16, 1, 4);
    expect(c.skipped).toBeNull();
    for (const p of c.probes!) checkLayout(t, p.ids, p, ids);
    // 64 facts (a dozen tokens each) cannot fit in 256 tokens: skipped, not run
    expect(multikeyCell(t, ids, 256, 64, 1, 2).skipped).toMatch(/too short/);
  });
});
