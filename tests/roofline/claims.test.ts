/**
 * What decides each speed claim (src/roofline/claims.ts), from sweep points carrying rooflines built by the pure
 * accounting for mamba-130m and pythia-160m: the short-context verdict names its bound and says whether bytes would
 * flip it; the decode claim turns on the KV cache at long L; bounds along L, measured and by the floors beyond.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parseConfig, type ModelConfig } from '../../src/hub/config';
import { parseJson } from '../../src/hub/json';
import type { Arch } from '../../src/models/types';
import { DEFAULT_KERNELS } from '../../src/models/kernel-choice';
import type { SweepPoint } from '../../src/recall/types';
import { changesSentence, decodeBound, memoryBound, prefillScalingBound, shortContextBound } from '../../src/roofline/claims';
import { decodeWork, outlook, prefillWork, roofline, type Rates } from '../../src/roofline';

const load = (p: string) => parseConfig(parseJson(readFileSync(p, 'utf8')) as Record<string, unknown>);
type Set = { mamba: ModelConfig; mamba2?: ModelConfig; transformer: ModelConfig; perPass: Partial<Record<Arch, number>> };
const pairs: Record<'130m' | 'demo', Set> = {
  // 130m: with Mamba-2 130M (24 heads × 64, N 128) beside them for the three-way tests
  '130m': {
    mamba: load('tests/hub/configs/state-spaces__mamba-130m-hf.json'), mamba2: load('tests/hub/configs/mamba2-130m-style.json'),
    transformer: load('tests/hub/configs/EleutherAI__pythia-160m.json'), perPass: { mamba: 290, mamba2: 220, transformer: 120 },
  },
  demo: { mamba: load('public/models/demo-mamba/config.json'), transformer: load('public/models/demo-pythia/config.json'), perPass: { mamba: 75, transformer: 39 } },
};
type Pair = keyof typeof pairs;
const rates: Rates = { copyGBps: 2000, matmulGflops: 20_000, dispatchUs: 6.6 };

/** A sweep point at L whose prefill and decode took `slow`× their floors (prefill dispatches: per pass, as counted). */
function point(pair: Pair, arch: Arch, length: number, slow = 1.2): SweepPoint {
  const c = pairs[pair][arch]!;
  const perPass = pairs[pair].perPass[arch]!;
  const passes = Math.ceil(length / 1024);
  const p = prefillWork(c, length, { passes, dispatches: perPass * passes });
  const d = decodeWork(c, length + 4);
  const pr = roofline(p, rates), dr = roofline(d, rates);
  const L = c.numHiddenLayers, hd = c.hiddenSize;
  const state = c.arch === 'mamba' ? L * 4 * c.intermediateSize * (c.stateSize + c.convKernel - 1)
    : c.arch === 'mamba2' ? L * 4 * (c.numHeads * c.headDim * c.stateSize + (c.convKernel - 1) * c.convDim)
    : L * 2 * hd * 4 * Math.max(256, 2 ** Math.ceil(Math.log2(length + 9)));
  const kv = arch === 'transformer';
  return {
    arch, length, prefillMs: pr.boundMs * slow, prefillTokPerS: 0, decodeMsPerToken: dr.boundMs * slow, decodeTokPerS: 1e3 / (dr.boundMs * slow),
    memory: { weights: 0, kvCache: kv ? state : 0, ssmState: kv ? 0 : state, activations: 0, scratch: 0 },
    stateBytes: state, totalBytes: state, prefillPass: 1024, kernels: { ...DEFAULT_KERNELS },
    roofline: {
      prefill: roofline(p, rates, { ms: pr.boundMs * slow, timing: 'gpu' }),
      decode: roofline(d, rates, { ms: dr.boundMs * slow, timing: 'gpu' }),
      outlook: { prefill: outlook(c, 'prefill', rates, { dispatches: perPass }), decode: outlook(c, 'decode', rates, { dispatches: d.dispatches }) },
    },
  };
}

const sweep = (lengths: number[], pair: Pair = '130m') => lengths.flatMap((l) => [point(pair, 'mamba', l), point(pair, 'transformer', l)]);

describe('claims: what decides them', () => {
  test('short context (demo pair): both dispatch-bound, decided by the implementation; bytes would not flip the Transformer\'s win', () => {
    const pts = sweep([256, 1024, 4096], 'demo');
    const b = shortContextBound(pts)!;
    expect(b.decider).toBe('implementation');
    expect(b.text).toMatch(/^At L = 256: Decided by the implementation: Mamba is dispatch-bound, set by its dispatch count \(75 dispatches\); the Transformer is dispatch-bound, set by its dispatch count \(39 dispatches\)\./);
    // measured (1.2× the floors): the Transformer faster; by bytes (f32 here) the Transformer moves less too
    expect(b.text).toContain('If bytes were the bound, the verdict would stand: Mamba moves 116 MB, the Transformer 72.3 MB, so the Transformer would still be faster.');
    // and where the bound changes: at 1k the matmuls take over for both
    expect(b.text).toContain('Mamba: dispatch-bound up to L = 256, compute-bound from 1k; the Transformer: dispatch-bound up to L = 256, compute-bound from 1k.');
    // 130m / 160m at 256 on the same GPU: the matmuls, i.e. model size
    expect(shortContextBound(sweep([256, 1024]))!.decider).toBe('size');
  });

  test('short context where the measurement and the bytes disagree: the verdict would flip', () => {
    // Mamba measured faster at 256 (a fast dispatch path), though it moves more bytes
    const pts = sweep([256]);
    const m = pts[0].roofline!.prefill!;
    pts[0] = { ...pts[0], roofline: { ...pts[0].roofline!, prefill: { ...m, measuredMs: 0.1, gap: 0.1 / m.boundMs } } };
    const b = shortContextBound(pts)!;
    expect(b.text).toMatch(/If bytes were the bound, the verdict would flip: Mamba moves [\d.]+ MB, the Transformer [\d.]+ MB, so the Transformer would be faster\./);
  });

  test('prefill at 32k: attention\'s quadratic FLOPs decide (architecture); the bound changes along L', () => {
    const pts = sweep([256, 1024, 4096, 16384, 32768]);
    const b = prefillScalingBound(pts)!;
    expect(b.decider).toBe('architecture');
    expect(b.text).toContain("At L = 32k: Decided by the architecture");
    expect(b.text).toContain("the Transformer is compute-bound, set by attention's L² scores");
    expect(changesSentence(pts, 'prefill')).toBe('Mamba: compute-bound at every length measured; the Transformer: compute-bound at every length measured.');
  });

  test('decode: Mamba dispatch-bound at every length; the Transformer\'s KV cache takes over past the lengths measured', () => {
    const short = sweep([256, 1024]);
    const b = decodeBound(short)!;
    expect(b.decider).toBe('implementation');
    // beyond 1k, by the floors: the KV cache read (73.7 kB per position) passes 51 × 6.6 µs of dispatches (673 MB at
    // 2 TB/s) near L ≈ 2.4k: the first power of 2 past it is 4k
    expect(changesSentence(short, 'decode')).toBe('Mamba: dispatch-bound at every length measured; the Transformer: dispatch-bound at every length measured; by the floors, bandwidth-bound from L ≈ 4k.');
    const long = decodeBound(sweep([1024, 65536]))!;
    expect(long.decider).toBe('architecture');
    expect(long.text).toContain('the Transformer is bandwidth-bound, set by the KV cache');
  });

  test('memory: the architecture, with the KV cache bytes per token of context', () => {
    const b = memoryBound(sweep([256, 1024]))!;
    expect(b.decider).toBe('architecture');
    // 12 layers × K and V × 768 floats × 4 bytes = 73,728 B per position
    expect(b.text).toBe("Decided by the architecture: the KV cache keeps every token (73.7 kB more per token of context); Mamba's state is 2.80 MB at any length.");
    expect(memoryBound(sweep([256]))).toBeNull();
  });

  test('three models: every verdict line names Mamba, Mamba-2 and the Transformer', () => {
    const three = (lengths: number[]) => lengths.flatMap((l) => [point('130m', 'mamba', l), point('130m', 'mamba2', l), point('130m', 'transformer', l)]);
    const pts = three([256, 1024, 4096]);
    const s = shortContextBound(pts)!;
    expect(s.text).toMatch(/^At L = 256: Decided by (the architecture|the implementation|model size): Mamba is [a-z]+-bound, set by [^;]+; Mamba-2 is [a-z]+-bound, set by [^;]+; the Transformer is [a-z]+-bound, set by [^.]+\./);
    // of three: which would be fastest if bytes were the bound (here: the Transformer, measured fastest too)
    expect(s.text).toMatch(/If bytes were the bound, the verdict would stand: Mamba moves [\d.]+ [MG]B, Mamba-2 [\d.]+ [MG]B, the Transformer [\d.]+ [MG]B, so the Transformer would still be fastest\./);
    expect(changesSentence(pts, 'prefill')).toMatch(/^Mamba: .*; Mamba-2: .*; the Transformer: .*\.$/);
    expect(prefillScalingBound(pts)!.text).toContain('At L = 4k: Decided by');
    expect(decodeBound(pts)!.text).toMatch(/Mamba-2 is [a-z]+-bound/);
    // the memory claim: each recurrent model's fixed state (Mamba-2 130M: 24 × (24·64·128 + 3·1792) × 4 B)
    expect(memoryBound(pts)!.text).toBe("Decided by the architecture: the KV cache keeps every token (73.7 kB more per token of context); Mamba's state is 2.80 MB, Mamba-2's 19.4 MB at any length.");
    // Mamba-2 stopped before the others' shortest length: the lengths all three share decide
    const late = pts.filter((p) => p.arch !== 'mamba2' || p.length === 4096);
    expect(shortContextBound(late)!.text).toMatch(/^At L = 4k: .*Mamba-2 is/);
    // no length in common for all three: Mamba against the Transformer
    const apart = pts.filter((p) => p.arch !== 'mamba2' || p.length === 4096).filter((p) => p.arch === 'mamba2' || p.length < 4096);
    expect(shortContextBound(apart)!.text).toMatch(/^At L = 256: Decided by [a-z ]+: Mamba is [^;]+; the Transformer is/);
    // Mamba-2 with the Transformer only (a pair without Mamba)
    const m2 = pts.filter((p) => p.arch !== 'mamba');
    expect(shortContextBound(m2)!.text).toMatch(/^At L = 256: Decided by [a-z ]+: Mamba-2 is [^;]+; the Transformer is/);
    expect(memoryBound(m2)!.text).toContain("Mamba-2's state is 19.4 MB at any length.");
  });

  test('no rooflines: no line', () => {
    const pts = sweep([256, 1024]).map((p) => ({ ...p, roofline: null }));
    expect(shortContextBound(pts)).toBeNull();
    expect(decodeBound(pts)).toBeNull();
    expect(changesSentence(pts, 'prefill')).toBe('');
  });
});
