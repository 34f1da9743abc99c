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

describe('three models: each recurrent model judged against the Transformer', () => {
  // Mamba-2: t = 0.004·L + 30 (linear), a larger fixed state, flat decode
  const m2 = (f: (L: number) => number) => lengths.map((L) => pt('mamba2', L, f(L), 40_000, 150));
  const three = [...sweep, ...m2((L) => 0.004 * L + 30)];

  it('agreeing verdicts keep their status, with a line per recurrent model and numbers keyed by model', () => {
    const v = verdictPrefillScaling(three);
    expect(v.status).toBe('supported');
    const lines = v.summary.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Prefill time grows as L\^[\d.]+ for Mamba and L\^[\d.]+ for the Transformer .* Mamba is near-linear/);
    expect(lines[1]).toMatch(/^Prefill time grows as L\^[\d.]+ for Mamba-2 and L\^[\d.]+ for the Transformer .* Mamba-2 is near-linear/);
    expect(Object.keys(v.numbers).sort()).toEqual(['mamba2Exponent', 'mambaExponent', 'transformerExponent']);
    expect(v.numbers.mamba2Exponent!).toBeLessThan(1.1);
    const mem = verdictMemory(three);
    expect(mem.status).toBe('supported');
    expect(mem.numbers).toMatchObject({ mambaStateBytes: 5000, mamba2StateBytes: 40_000, mamba2StateGrowth: 1 });
    expect(mem.summary).toContain("Mamba-2's state memory changed ×1.00");
    expect(verdictDecode(three).status).toBe('supported');
    const c = verdictCrossover(three);
    expect(c.status).toBe('supported');
    // keys naming no model are kept per model
    expect(c.numbers['mamba.crossoverLength']).toBe(crossover(sweep)!.length);
    expect(c.numbers['mamba2.crossoverLength']).toBe(crossover(three, undefined, 'mamba2')!.length);
    expect(crossover(three, undefined, 'mamba2')!.length).toBeLessThan(crossover(three)!.length); // the faster Mamba-2 crosses earlier
  });

  it('mixed verdicts are inconclusive and say for which model the claim holds', () => {
    const v = verdictPrefillScaling([...sweep, ...m2((L) => 2e-5 * L * L)]);
    expect(v.status).toBe('inconclusive');
    expect(v.summary.split('\n')[0]).toBe('The claim holds for Mamba; does not hold for Mamba-2.');
  });

  it('Mamba-2 against the Transformer alone is judged as Mamba was, by name; a model without data is left out', () => {
    const pair = three.filter((p) => p.arch !== 'mamba');
    const v = verdictPrefillScaling(pair);
    expect(v.status).toBe('supported');
    expect(v.summary).toMatch(/for Mamba-2 and L\^[\d.]+ for the Transformer .* Mamba-2 is near-linear; attention grows faster\.$/);
    expect(Object.keys(v.numbers).sort()).toEqual(['mamba2Exponent', 'transformerExponent']);
    // Mamba-2 at one length only: no verdict of its own, Mamba's stands as it is
    const short = [...sweep, pt('mamba2', 256, 31, 40_000, 150)];
    expect(verdictPrefillScaling(short)).toEqual(verdictPrefillScaling(sweep));
    // no Transformer: nothing to compare with
    expect(verdictPrefillScaling(three.filter((p) => p.arch !== 'transformer')).status).toBe('no-data');
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

  it('with Mamba-2: each recurrent model against the Transformer at the length they share', () => {
    const mk2 = (m: number[]) => [1, 4, 16, 64].flatMap((k, i) => cell('mamba2', 1024, k, m[i]));
    // Mamba forgets as K grows; Mamba-2's larger state holds the facts as well as attention
    const v = verdictForget([...sweep([4, 3, 1, 0], [4, 4, 4, 3]), ...mk2([4, 4, 4, 4])]);
    expect(v.status).toBe('inconclusive');
    const lines = v.summary.split('\n');
    expect(lines[0]).toBe('The claim holds for Mamba; does not hold for Mamba-2.');
    expect(lines[1]).toContain('Mamba 100% → 0%, Transformer 100% → 75%');
    expect(lines[2]).toContain('Mamba-2 100% → 100%, Transformer 100% → 75%');
    expect(lines[2]).toContain('The fixed-size state held 64 facts as well as attention did.');
    expect(v.numbers).toMatchObject({ mambaAtKMax: 0, mamba2AtKMax: 1, transformerAtKMax: 0.75, 'mamba.length': 1024, 'mamba2.length': 1024 });
    // both forget: supported for both
    expect(verdictForget([...sweep([4, 3, 1, 0], [4, 4, 4, 3]), ...mk2([4, 2, 0, 0])]).status).toBe('supported');
    // the passkey claim with three
    const pk = [passkey('mamba', 512, 0), passkey('mamba2', 512, 0), passkey('transformer', 512, 1)];
    const r = verdictRecall(pk);
    expect(r.status).toBe('supported');
    expect(r.summary.split('\n')).toEqual([
      'Recall accuracy: Transformer 100%, Mamba 0% overall; at L=512: 100% vs 0%. Attention recalls more.',
      'Recall accuracy: Transformer 100%, Mamba-2 0% overall; at L=512: 100% vs 0%. Attention recalls more.',
    ]);
  });

  it('needs two K values at one length for both models', () => {
    expect(verdictForget([]).status).toBe('no-data');
    expect(verdictForget([...cell('mamba', 1024, 1, 4), ...cell('transformer', 1024, 1, 4)]).status).toBe('no-data');
    // the passkey verdict ignores multikey points
    expect(verdictRecall(sweep([0, 0, 0, 0], [4, 4, 4, 4])).status).toBe('no-data');
  });
});
