import { describe, expect, it } from 'vitest';
import { binMeans, mean, tokenNll } from '../../src/recall/loss';
import { checkDocument } from '../../src/recall/document';
import {
  capacityByKeys, capacityGrid, capacityLength, crossover, fitPowerLaw, recallByLength, recallGrid, verdictCrossover, verdictDecode, verdictForget,
  verdictMemory, verdictPrefillScaling, verdictRecall,
} from '../../src/recall/analysis';
import type { RecallPoint, SweepPoint } from '../../src/recall/types';
import type { Arch } from '../../src/models/types';
import { DEFAULT_KERNELS } from '../../src/models/kernel-choice';

const mem = { weights: 100, kvCache: 0, ssmState: 0, activations: 0, scratch: 0 };
const kernels = DEFAULT_KERNELS;
function pt(arch: Arch, length: number, prefillMs: number, stateBytes: number, decodeTokPerS: number): SweepPoint {
  return { arch, length, prefillMs, prefillTokPerS: (length / prefillMs) * 1e3, decodeMsPerToken: 1e3 / decodeTokPerS, decodeTokPerS, memory: mem, stateBytes, totalBytes: stateBytes + 100, prefillPass: length, kernels };
}
// Mamba: t = 0.01·L + 20, constant state, flat decode. Transformer: t = 1e-5·L² + 0.002·L + 1, KV ∝ L, falling decode.
const lengths = [256, 512, 1024, 2048, 4096, 8192];
const sweep: SweepPoint[] = lengths.flatMap((L) => [
  pt('mamba', L, 0.01 * L + 20, 5000, 100),
  pt('transformer', L, 1e-5 * L * L + 0.002 * L + 1, 64 * L, 200 / (1 + L / 2048)),
]);

describe('loss by position', () => {
  it('computes NLL from logits rows (log-softmax)', () => {
    const logits = new Float32Array([0, 0, 0, 0, Math.log(3), 0]);
    const nll = tokenNll(logits, 3, 2, [1, 1]);
    expect(nll[0]).toBeCloseTo(Math.log(3), 6);
    expect(nll[1]).toBeCloseTo(Math.log(5 / 3), 6); // p(1) = 3/(1+3+1)
    expect(Number.isNaN(tokenNll(logits, 3, 2, [7, 0])[0])).toBe(true);
  });
  it('bins means by position and ignores NaN', () => {
    const b = binMeans([1, 1, 3, 3, NaN, 5], 3);
    expect(b.map((x) => x.value)).toEqual([1, 3, 5]);
    expect(b.map((x) => x.position)).toEqual([1, 3, 5]);
    expect(mean([1, NaN, 3])).toBe(2);
  });
});

describe('document checks', () => {
  it('rejects empty, binary and too-long text with a clear message', () => {
    expect(checkDocument('   \n ', { maxTokens: 100 })).toMatchObject({ ok: false, problem: 'empty' });
    expect(checkDocument('abc\u0000def', { maxTokens: 100 })).toMatchObject({ ok: false, problem: 'binary' });
    expect(checkDocument('\u0001\u0002\u0003 hello', { maxTokens: 100 })).toMatchObject({ ok: false, problem: 'binary' });
    const long = checkDocument('word '.repeat(1000), { maxTokens: 100 });
    expect(long).toMatchObject({ ok: false, problem: 'too-long' });
    expect(long.message).toContain('100 tokens');
    expect(checkDocument('short', { maxTokens: 100, tokens: 1, minTokens: 40 })).toMatchObject({ ok: false, problem: 'too-short' });
    expect(checkDocument('Ordinary text.\n\tWith a tab.', { maxTokens: 100 }).ok).toBe(true);
  });
});

describe('scaling analysis', () => {
  it('fits power laws', () => {
    const f = fitPowerLaw([1, 2, 4, 8], [3, 12, 48, 192])!;
    expect(f.exponent).toBeCloseTo(2, 9);
    expect(f.r2).toBeCloseTo(1, 9);
    expect(fitPowerLaw([1], [1])).toBeNull();
  });
  it('finds the crossover where Mamba becomes faster', () => {
    const x = crossover(sweep)!;
    expect(x.transformerFasterBelow).toBe(true);
    // Exact crossing of 0.01L+20 = 1e-5L²+0.002L+1 is L ≈ 1962; log interpolation between 1024 and 2048 lands near it.
    expect(x.length).toBeGreaterThan(1024);
    expect(x.length).toBeLessThan(2048);
  });
  it('gives verdicts for the claims', () => {
    expect(verdictPrefillScaling(sweep).status).toBe('supported');
    expect(verdictMemory(sweep).status).toBe('supported');
    expect(verdictDecode(sweep).status).toBe('supported');
    const c = verdictCrossover(sweep);
    expect(c.status).toBe('supported');
    expect(c.numbers.crossoverLength).toBeGreaterThan(1024);
    expect(verdictPrefillScaling([]).status).toBe('no-data');
    // A linear transformer is not evidence either way; a Mamba growing as fast as attention contradicts the claim.
    const flat = sweep.map((p) => (p.arch === 'transformer' ? { ...p, prefillMs: p.length * 0.001 } : p));
    expect(verdictPrefillScaling(flat).status).toBe('inconclusive');
    const quad = sweep.map((p) => (p.arch === 'mamba' ? { ...p, prefillMs: 2e-5 * p.length * p.length } : p));
    expect(verdictPrefillScaling(quad).status).toBe('contradicted');
  });
});

describe('recall aggregation', () => {
  const rp = (arch: Arch, length: number, depth: number, score: number): RecallPoint => ({
    arch, probe: 'passkey', length, depth, trial: 0, score, correct: score === 1, expected: '1', output: '1', ms: 1, kernels,
  });
  const pts = [rp('mamba', 256, 0, 1), rp('mamba', 256, 0, 0), rp('mamba', 512, 0.5, 0), rp('transformer', 256, 0, 1), rp('transformer', 512, 0.5, 1)];
  it('averages per cell and per length', () => {
    expect(recallGrid(pts, 'mamba', 'passkey')).toEqual([
      { length: 256, depth: 0, score: 0.5, n: 2 },
      { length: 512, depth: 0.5, score: 0, n: 1 },
    ]);
    expect(recallByLength(pts, 'transformer', 'passkey')).toEqual([
      { length: 256, score: 1, n: 1 },
      { length: 512, score: 1, n: 1 },
    ]);
  });
  it('judges the recall claim', () => {
    expect(verdictRecall(pts).status).toBe('supported');
    expect(verdictRecall([]).status).toBe('no-data');
  });
});

describe('capacity (multikey) aggregation and the "must forget" verdict', () => {
  /** `n` probes of one (arch, length, K) cell with `correct` of them right. */
  const cell = (arch: Arch, length: number, keys: number, correct: number, n = 4): RecallPoint[] =>
    Array.from({ length: n }, (_, i) => ({
      arch, probe: 'multikey' as const, length, depth: 0.5, keys, trial: i, score: i < correct ? 1 : 0, correct: i < correct, expected: '1234', output: '', ms: 1, kernels,
    }));
  const passkey = (arch: Arch, length: number, score: number): RecallPoint => ({
    arch, probe: 'passkey', length, depth: 0.5, trial: 0, score, correct: score === 1, expected: '1', output: '', ms: 1, kernels,
  });
  /** Accuracy (in quarters) per K at L=1024 for Mamba and the Transformer, plus a cell at L=256 with one K only. */
  const sweep = (m: number[], t: number[], ks = [1, 4, 16, 64]) => [
    ...ks.flatMap((k, i) => [...cell('mamba', 1024, k, m[i]), ...cell('transformer', 1024, k, t[i])]),
    ...cell('mamba', 256, 1, 4), ...cell('transformer', 256, 1, 4),
  ];

  it('averages per (length, K) and picks the length with the most K values in common', () => {
    const pts = sweep([4, 3, 1, 0], [4, 4, 4, 3]);
    expect(capacityGrid(pts, 'mamba').filter((c) => c.length === 1024)).toEqual([
      { length: 1024, keys: 1, score: 1, n: 4 },
      { length: 1024, keys: 4, score: 0.75, n: 4 },
      { length: 1024, keys: 16, score: 0.25, n: 4 },
      { length: 1024, keys: 64, score: 0, n: 4 },
    ]);
    expect(capacityLength(pts, ['mamba', 'transformer'])).toEqual({ length: 1024, keys: [1, 4, 16, 64] });
    expect(capacityByKeys(pts, 'transformer', 1024).map((c) => c.score)).toEqual([1, 1, 1, 0.75]);
    // a K measured for one model only does not count as common; one K per length is not a curve
    expect(capacityLength([...cell('mamba', 512, 1, 1), ...cell('transformer', 512, 4, 1)], ['mamba', 'transformer'])).toBeNull();
    // passkey points are not capacity points
    expect(capacityGrid([passkey('mamba', 1024, 1)], 'mamba')).toEqual([]);
  });

  it('holds when the state loses facts as K grows and attention keeps them', () => {
    const v = verdictForget([...sweep([4, 3, 1, 0], [4, 4, 4, 3]), passkey('mamba', 2048, 0.5), passkey('transformer', 2048, 1)]);
    expect(v.status).toBe('supported');
    expect(v.numbers).toMatchObject({ length: 1024, kMin: 1, kMax: 64, mambaAtKMin: 1, mambaAtKMax: 0, transformerAtKMax: 0.75, passkeyLength: 2048, mambaPasskey: 0.5 });
    expect(v.summary).toContain('Mamba 100% → 0%, Transformer 100% → 75%');
    expect(v.summary).toContain('Passkey (one fact) at L=2048: Mamba 50%, Transformer 100%');
  });

  it('does not hold when the state keeps as many facts as attention', () => {
    expect(verdictForget(sweep([4, 4, 4, 4], [4, 4, 4, 4])).status).toBe('contradicted');
    expect(verdictForget(sweep([4, 4, 4, 4], [4, 4, 3, 3])).status).toBe('contradicted');
  });

  it('is inconclusive when nothing is recalled at small K, or when both forget alike', () => {
    const none = verdictForget(sweep([0, 0, 0, 0], [1, 0, 0, 0]));
    expect(none.status).toBe('inconclusive');
    expect(none.summary).toContain('Neither model recalls even 1 fact reliably');
    const noLookup = verdictForget(sweep([1, 0, 0, 0], [4, 4, 4, 4]));
    expect(noLookup.status).toBe('inconclusive');
    expect(noLookup.summary).toContain('not a capacity limit');
    const both = verdictForget(sweep([4, 2, 0, 0], [4, 2, 0, 0]));
    expect(both.status).toBe('inconclusive');
    expect(both.summary).toContain('Both models lose facts');
  });

  it('needs two K values at one length for both models', () => {
    expect(verdictForget([]).status).toBe('no-data');
    expect(verdictForget([...cell('mamba', 1024, 1, 4), ...cell('transformer', 1024, 1, 4)]).status).toBe('no-data');
    // the passkey verdict ignores multikey points
    expect(verdictRecall(sweep([0, 0, 0, 0], [4, 4, 4, 4])).status).toBe('no-data');
  });
});
