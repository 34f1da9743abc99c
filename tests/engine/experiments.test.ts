/**
 * The experiments of src/engine (what the worker and the CLIs run) on the tiny random fixtures (Mamba, Mamba-2 and
 * GPT-NeoX, WebGPU/Dawn): each runs the slots and the kernels its parameters name (any two or all three models), records the kernels with every result,
 * stops a model at capacity while the other goes on, and ends with cancelled: true when aborted, emitting nothing
 * after the abort.
 */
import { describe, expect, it } from 'vitest';
import type { EngineEvent, Models } from '../../src/engine/events';
import { runDiagnostics } from '../../src/engine/diagnostics';
import { runGenerate } from '../../src/engine/generate';
import { tokenLosses } from '../../src/engine/loss-curve';
import { recallCells, runRecall, type RecallParams } from '../../src/engine/recall';
import { randomIds, runSweep, type SweepParams } from '../../src/engine/sweep';
import { DEFAULT_KERNELS, parseKernelChoice, type KernelChoice } from '../../src/models/kernel-choice';
import type { LoadedModel } from '../../src/models/load';
import type { Arch } from '../../src/models/types';
import { tokenNll } from '../../src/recall/loss';
import { slotOf } from '../../src/engine/run';
import { hubSource } from '../../src/hub/hub';
import { loadSlot } from '../../src/worker/load';
import type { LoadProgress } from '../../src/worker/protocol';
import { gpu } from '../gpu';
import { tinyHub } from '../models/tiny';

const hub = tinyHub();
type Two = 'mamba' | 'transformer';
const ARCHS: Two[] = ['mamba', 'transformer'];
const DOC = 'The harbour master opened the ledger and wrote the names of the ships that came in with the tide. '.repeat(4);
const NOT_DEFAULT: KernelChoice = { scan: 'sequential', attention: 'reference' };

let loaded: Promise<Record<Two, LoadedModel>> | null = null;
/** Both tiny models, loaded once for the file. */
function pair(): Promise<Record<Two, LoadedModel>> {
  loaded ??= (async () => ({ mamba: await hub.load('mamba'), transformer: await hub.load('pythia') }))();
  return loaded;
}

function collect(): { events: EngineEvent[]; emit: (e: EngineEvent) => void; of<T extends EngineEvent['type']>(t: T): Extract<EngineEvent, { type: T }>[] } {
  const events: EngineEvent[] = [];
  return {
    events,
    emit: (e) => events.push(e),
    of: <T extends EngineEvent['type']>(t: T) => events.filter((e): e is Extract<EngineEvent, { type: T }> => e.type === t),
  };
}

const never = () => new AbortController().signal;

describe('the kernel choice', () => {
  it('parses loose input with a clear error and defaults for what is missing', () => {
    expect(parseKernelChoice({})).toEqual(DEFAULT_KERNELS);
    expect(parseKernelChoice({ scan: 'unfused' })).toEqual({ scan: 'unfused', attention: 'flash' });
    expect(() => parseKernelChoice({ scan: 'fast' })).toThrow(/unknown scan kernel "fast": use one of fused, unfused, sequential/);
    expect(() => parseKernelChoice({ attention: 'toString' })).toThrow(/unknown attention kernel "toString"/);
  });
});

describe('sweep', { timeout: 300_000 }, () => {
  const params = (p: Partial<SweepParams> = {}): SweepParams => ({ slots: ARCHS, lengths: [8, 24], decodeTokens: 2, repeats: 1, seed: 3, kernels: NOT_DEFAULT, ...p });

  it('measures each model at each length with the run\'s kernels, recorded in every point; a change to the setting mid-run does not reach it', async () => {
    const models = await pair();
    const c = collect();
    const p = params();
    const during: KernelChoice[] = [];
    const end = await runSweep(models, p, (e) => {
      c.emit(e);
      if (e.type === 'sweep-point') {
        during.push({ ...models[e.point.arch as Two].kernels });
        p.kernels = { scan: 'unfused', attention: 'flash' }; // what a toggle during the run would change
      }
    }, never());
    expect(end).toEqual({ cancelled: false });
    const pts = c.of('sweep-point').map((e) => e.point);
    expect(pts.map((x) => [x.arch, x.length])).toEqual([['mamba', 8], ['transformer', 8], ['mamba', 24], ['transformer', 24]]);
    for (const x of pts) {
      expect(x.kernels).toEqual(NOT_DEFAULT);
      expect(x.prefillMs).toBeGreaterThan(0);
      expect(x.decodeTokPerS).toBeGreaterThan(0);
      expect(x.stateBytes).toBe(x.arch === 'mamba' ? x.memory.ssmState : x.memory.kvCache);
    }
    expect(during).toEqual(Array(4).fill(NOT_DEFAULT));
    const progress = c.of('progress');
    expect(progress.at(-1)).toMatchObject({ done: 4, total: 4, label: 'done' });
    expect(c.of('limit')).toEqual([]);
  });

  it('refuses an unknown kernel or a model that is not loaded before running anything', async () => {
    const models = await pair();
    const c = collect();
    await expect(runSweep(models, params({ kernels: { scan: 'fast' } as unknown as KernelChoice }), c.emit, never())).rejects.toThrow(/unknown scan kernel/);
    await expect(runSweep({ mamba: models.mamba } as Models, params(), c.emit, never())).rejects.toThrow(/No Transformer model is loaded/);
    expect(c.events).toEqual([]);
  });

  it('stops a model that runs out of memory at the largest length that fit, and the run goes on', async () => {
    const models = await pair();
    const ctx = await gpu();
    const c = collect();
    try {
      const end = await runSweep(models, params({ lengths: [8, 600, 700], kernels: DEFAULT_KERNELS }), (e) => {
        c.emit(e);
        // after the first point (Mamba at 8, its buffers for 8 tokens in place): a "GPU" with room for almost nothing more
        if (e.type === 'sweep-point' && c.of('sweep-point').length === 1) ctx.pool.memoryCap = ctx.pool.totalLiveBytes() + 8192;
      }, never());
      expect(end.cancelled).toBe(false);
    } finally {
      ctx.pool.memoryCap = null;
    }
    const limits = c.of('limit');
    expect(limits.map((l) => [l.slot, l.length, l.lastOk, l.reason])).toEqual([['mamba', 600, 8, 'out-of-memory'], ['transformer', 600, 8, 'out-of-memory']]);
    expect(limits[0].message).toMatch(/stopped at L=600 .*the largest length that fit was 8/);
    expect(c.of('sweep-point').map((e) => e.point.length)).toEqual([8, 8]);
    // the models still work after the stop
    for (const a of ARCHS) expect((await models[a].prefill(randomIds(16, 400, 1))).length).toBe(models[a].vocabSize);
  });

  it('ends with cancelled: true when aborted, emitting no result after the abort', async () => {
    const models = await pair();
    const c = collect();
    const ac = new AbortController();
    const end = await runSweep(models, params({ lengths: [8, 16, 24, 32] }), (e) => {
      c.emit(e);
      if (e.type === 'sweep-point') ac.abort();
    }, ac.signal);
    expect(end).toEqual({ cancelled: true });
    expect(c.of('sweep-point')).toHaveLength(1);
    expect(c.events.at(-1)!.type).toBe('sweep-point');
  });
});

describe('recall', { timeout: 400_000 }, () => {
  const params = (p: Partial<RecallParams> = {}): RecallParams => ({
    slots: ARCHS, probes: ['passkey', 'copy', 'multikey', 'loss'], document: DOC, lengths: [96], depths: [0.5], trials: 1, seed: 1, keys: [1, 60],
    kernels: NOT_DEFAULT, ...p,
  });

  it('plans its cells: per length the probes (multikey per K), multikey at its own lengths after the rest', () => {
    expect(recallCells(params({ lengths: [64, 128], probes: ['passkey', 'multikey'], keys: [1, 4] }))).toEqual([
      { length: 64, probe: 'passkey' }, { length: 64, probe: 'multikey', keys: 1 }, { length: 64, probe: 'multikey', keys: 4 },
      { length: 128, probe: 'passkey' }, { length: 128, probe: 'multikey', keys: 1 }, { length: 128, probe: 'multikey', keys: 4 },
    ]);
    expect(recallCells(params({ lengths: [64], probes: ['multikey', 'copy'], keys: [2], keyLengths: [256, 128] }))).toEqual([
      { length: 64, probe: 'copy' }, { length: 256, probe: 'multikey', keys: 2 }, { length: 128, probe: 'multikey', keys: 2 },
    ]);
  });

  it('runs every probe on both models with the run\'s kernels, records them, and skips a multikey cell that does not fit', async () => {
    const models = await pair();
    const c = collect();
    const end = await runRecall(models, params(), c.emit, never());
    expect(end.cancelled).toBe(false);
    const pts = c.of('recall-point').map((e) => e.point);
    // passkey, copy (1 depth × 1 trial) and multikey K=1 (1 probe) for each model
    expect(pts.map((x) => `${x.probe}:${x.arch}`).sort()).toEqual(
      ['copy:mamba', 'copy:transformer', 'multikey:mamba', 'multikey:transformer', 'passkey:mamba', 'passkey:transformer'],
    );
    for (const x of pts) {
      expect(x.kernels).toEqual(NOT_DEFAULT);
      expect(x.length).toBe(96);
      expect(x.score).toBeGreaterThanOrEqual(0);
      expect(x.score).toBeLessThanOrEqual(1);
    }
    expect(pts.find((x) => x.probe === 'multikey')!.keys).toBe(1);
    const skips = c.of('recall-skip').map((e) => e.skip);
    expect(skips.map((s) => [s.arch, s.keys])).toEqual([['mamba', 60], ['transformer', 60]]);
    expect(skips[0].message).toMatch(/K=60 facts .* L=96 is too short/);
    const curves = c.of('loss-curve').map((e) => e.curve);
    expect(curves.map((x) => x.arch)).toEqual(ARCHS);
    for (const x of curves) {
      expect(x.losses).toHaveLength(95);
      expect(x.kernels).toEqual(NOT_DEFAULT);
      expect(Number.isFinite(x.meanLoss)).toBe(true);
    }
    const progress = c.of('progress');
    expect(progress.at(-1)).toMatchObject({ label: 'done' });
    expect(progress.at(-2)!.done).toBeLessThan(progress.at(-1)!.total);
  });

  it('a time budget stops starting cells, a context limit stops a model, the other goes on', async () => {
    const models = await pair();
    const timed = collect();
    await runRecall(models, params({ maxMs: 0 }), timed.emit, never());
    expect(timed.of('recall-point')).toEqual([]);
    expect(timed.of('limit').map((l) => [l.slot, l.reason])).toEqual([['mamba', 'time'], ['transformer', 'time']]);

    const c = collect();
    const tf = models.transformer as unknown as { maxContext: number };
    const saved = Object.getOwnPropertyDescriptor(tf, 'maxContext');
    Object.defineProperty(tf, 'maxContext', { value: 120, configurable: true });
    try {
      await runRecall(models, params({ probes: ['copy'], lengths: [96, 128] }), c.emit, never());
    } finally {
      if (saved) Object.defineProperty(tf, 'maxContext', saved);
      else delete (tf as { maxContext?: number }).maxContext;
    }
    expect(c.of('limit').map((l) => [l.slot, l.length, l.lastOk, l.reason])).toEqual([['transformer', 128, 96, 'context']]);
    expect(c.of('recall-point').map((e) => `${e.point.arch}@${e.point.length}`)).toEqual(['mamba@96', 'transformer@96', 'mamba@128']);
  });

  it('ends with cancelled: true when aborted mid-run, and a probe cut short by the abort is no result', async () => {
    const models = await pair();
    const c = collect();
    const ac = new AbortController();
    const end = await runRecall(models, params({ probes: ['passkey', 'copy'], depths: [0, 0.5, 1] }), (e) => {
      c.emit(e);
      // abort while the second probe runs (its progress event comes just before it starts)
      if (e.type === 'progress' && e.done === 1) ac.abort();
    }, ac.signal);
    expect(end).toEqual({ cancelled: true });
    expect(c.of('recall-point')).toHaveLength(1);
    expect(c.events.at(-1)).toMatchObject({ type: 'progress', done: 1 });
  });
});

describe('loss by position, diagnostics, generate', { timeout: 300_000 }, () => {
  it('loss by position: the NLL of every next token, as one prefill with all logits gives it', async () => {
    const { mamba } = await pair();
    mamba.kernels = { ...DEFAULT_KERNELS }; // what the runs above left is theirs (sequential is slow here)
    const ids = randomIds(1100, 400, 5); // two prefill chunks of all logits
    const losses = await tokenLosses(mamba, ids, never());
    mamba.reset();
    const logits = await mamba.prefill(ids, { allLogits: true });
    const want = Array.from(tokenNll(logits, mamba.vocabSize, ids.length, ids.slice(1))).slice(0, ids.length - 1);
    expect(losses).toHaveLength(1099);
    for (let i = 0; i < want.length; i++) expect(losses[i]).toBeCloseTo(want[i], 4);
  });

  it('diagnostics: one selectivity result per model with the probe\'s tokens and the run\'s kernels', async () => {
    const models = await pair();
    const c = collect();
    await runDiagnostics(models, { slots: ARCHS, document: DOC, length: 80, depth: 0.5, seed: 2, kernels: NOT_DEFAULT }, c.emit, never());
    const rs = c.of('selectivity').map((e) => e.result);
    expect(rs.map((r) => [r.slot, r.kind])).toEqual([['mamba', 'delta'], ['transformer', 'attention']]);
    for (const r of rs) {
      expect(r.kernels).toEqual(NOT_DEFAULT);
      expect(r.tokens).toHaveLength(80);
      expect(r.layers).toHaveLength(2);
      for (const l of r.layers) expect(l).toHaveLength(80);
      expect(r.needle[1]).toBeGreaterThan(r.needle[0]);
    }
  });

  it('generate: both models stream the tokens of their own generate(), stats with the run\'s kernels; abort ends it as cancelled', async () => {
    const models = await pair();
    const c = collect();
    const prompt = 'The harbour master opened the ledger';
    const end = await runGenerate(models, {
      prompt, slots: ARCHS, maxNewTokens: 6, temperature: 0, topK: 0, topP: 1, seed: 0, mode: 'interleaved', batch: 2, kernels: NOT_DEFAULT,
    }, c.emit, never());
    expect(end.cancelled).toBe(false);
    for (const a of ARCHS) {
      const ids = c.of('gen-tokens').filter((e) => e.slot === a).flatMap((e) => e.ids);
      const own = await models[a].generate(models[a].tokenizer.encode(prompt), { temperature: 0, topK: 0, topP: 1, seed: 0, maxNewTokens: 6 });
      expect(ids).toEqual(own.ids);
      const st = c.of('gen-stats').find((e) => e.slot === a)!;
      expect(st.kernels).toEqual(NOT_DEFAULT);
      expect(st.stats.newTokens).toBe(6);
      expect(st.trace.batch).toBe(2);
      expect(st.trace.readbacks).toBeNull(); // no ReadbackCounter watches this device
    }

    const ac = new AbortController();
    const cut = collect();
    const stopped = await runGenerate(models, {
      prompt, slots: ['mamba'], maxNewTokens: 200, temperature: 0, topK: 0, topP: 1, seed: 0, mode: 'sequential', batch: 2, kernels: DEFAULT_KERNELS,
    }, (e) => {
      cut.emit(e);
      if (e.type === 'gen-tokens') ac.abort();
    }, ac.signal);
    expect(stopped).toEqual({ cancelled: true });
    expect(cut.of('gen-stats')[0].stats.stopReason).toBe('aborted');
    expect(cut.of('gen-stats')[0].stats.newTokens).toBeLessThan(10);
  });
});

describe('three models: Mamba, Mamba-2 and the Transformer in their own slots', { timeout: 400_000 }, () => {
  const THREE: Arch[] = ['mamba', 'mamba2', 'transformer'];
  let mamba2: Promise<LoadedModel> | null = null;
  /** The pair plus the tiny Mamba-2 (tests/fixtures/hub/tiny-random/mamba2), loaded once. */
  async function three(): Promise<Record<Arch, LoadedModel>> {
    mamba2 ??= hub.load('mamba2');
    return { ...(await pair()), mamba2: await mamba2 };
  }

  it('a Mamba-2 model is its own slot: slotOf says mamba2, and the worker\'s load refuses it for the Mamba slot', async () => {
    const m2 = (await three()).mamba2;
    expect(m2.arch).toBe('mamba2');
    expect(slotOf(m2)).toBe('mamba2');
    expect(slotOf((await pair()).mamba)).toBe('mamba');
    const progress: LoadProgress[] = [];
    const source = hubSource('tiny-random/mamba2', { baseUrl: hub.url() });
    await expect(loadSlot(await gpu(), 'mamba', source, never(), () => {})).rejects.toThrow('tiny-random/mamba2 is a Mamba-2 model, not a Mamba model');
    const { model, info } = await loadSlot(await gpu(), 'mamba2', source, never(), (p) => progress.push(p));
    try {
      expect(info).toMatchObject({ arch: 'mamba2', source: 'tiny-random/mamba2', trainedContext: null, vocabSize: 512 });
      // h·p·n + (k−1)·conv_dim floats per layer: 2 × (8·16·16 + 3·(128 + 2·16)) × 4 B
      expect(info.memory.ssmState).toBe(2 * (8 * 16 * 16 + 3 * (128 + 2 * 16)) * 4);
      expect(progress.every((p) => p.slot === 'mamba2')).toBe(true);
      expect(progress.at(-1)!.loaded).toBeGreaterThan(358_000); // model.safetensors and the small files
    } finally {
      model.dispose();
    }
  });

  it('sweep: a point per model and length in slot order; Mamba-2\'s state is fixed and larger than Mamba\'s, the KV cache grows', async () => {
    const models = await three();
    const c = collect();
    const end = await runSweep(models, { slots: THREE, lengths: [8, 40], decodeTokens: 2, repeats: 1, seed: 3, kernels: DEFAULT_KERNELS }, c.emit, never());
    expect(end).toEqual({ cancelled: false });
    const pts = c.of('sweep-point').map((e) => e.point);
    expect(pts.map((x) => [x.arch, x.length])).toEqual([8, 40].flatMap((l) => THREE.map((a) => [a, l])));
    const state = (a: Arch, l: number) => pts.find((x) => x.arch === a && x.length === l)!.stateBytes;
    expect(state('mamba2', 8)).toBe(models.mamba2.memory().ssmState);
    expect(state('mamba2', 40)).toBe(state('mamba2', 8));
    expect(state('mamba', 40)).toBe(state('mamba', 8));
    expect(state('mamba2', 8)).toBeGreaterThan(state('mamba', 8)); // N 16 per head channel vs Mamba's 8
    expect(state('transformer', 40)).toBeGreaterThanOrEqual(state('transformer', 8));
    for (const x of pts) {
      expect(x.prefillMs).toBeGreaterThan(0);
      expect(x.decodeTokPerS).toBeGreaterThan(0);
      expect(x.stateBytes).toBe(x.arch === 'transformer' ? x.memory.kvCache : x.memory.ssmState);
    }
    expect(c.of('progress').at(-1)).toMatchObject({ done: 6, total: 6 });
    // any two of the three
    const two = collect();
    await runSweep(models, { slots: ['mamba2', 'transformer'], lengths: [8], decodeTokens: 0, repeats: 1, seed: 3, kernels: DEFAULT_KERNELS }, two.emit, never());
    expect(two.of('sweep-point').map((e) => e.point.arch)).toEqual(['mamba2', 'transformer']);
  });

  it('recall and generate run all three; each model streams its own generate()\'s tokens', async () => {
    const models = await three();
    const r = collect();
    await runRecall(models, {
      slots: THREE, probes: ['passkey', 'multikey'], document: DOC, lengths: [96], depths: [0.5], trials: 1, seed: 1, keys: [1], kernels: DEFAULT_KERNELS,
    }, r.emit, never());
    expect(r.of('recall-point').map((e) => `${e.point.probe}:${e.point.arch}`).sort()).toEqual(
      THREE.flatMap((a) => [`multikey:${a}`, `passkey:${a}`]).sort(),
    );
    const g = collect();
    const prompt = 'The harbour master opened the ledger';
    await runGenerate(models, {
      prompt, slots: THREE, maxNewTokens: 5, temperature: 0, topK: 0, topP: 1, seed: 0, mode: 'interleaved', batch: 2, kernels: DEFAULT_KERNELS,
    }, g.emit, never());
    expect(g.of('gen-stats').map((e) => e.slot)).toEqual(expect.arrayContaining(THREE));
    for (const a of THREE) {
      const ids = g.of('gen-tokens').filter((e) => e.slot === a).flatMap((e) => e.ids);
      const own = await models[a].generate(models[a].tokenizer.encode(prompt), { temperature: 0, topK: 0, topP: 1, seed: 0, maxNewTokens: 5 });
      expect(ids, a).toEqual(own.ids);
    }
  });
});
