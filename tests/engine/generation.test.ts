/**
 * Compare's generation loop (src/engine/generation.ts) on a Mamba / GPT-NeoX pair (the tiny random fixtures: the
 * loop's logic does not depend on the weights, and SwiftShader decodes them ~50x faster than the demo pair), on Dawn: side by side it makes the same tokens
 * as each model's own generate() (greedy and sampled), one readback per batch of k tokens, stops at EOS / maxNew /
 * the context limit, and stops on cancel. The readback counter (src/engine/readbacks.ts) counts what the GPU returns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer } from '../../tools/hub-server.mjs';
import { HubClient, staticSource } from '../../src/hub/hub';
import { loadModel, type LoadedModel } from '../../src/models/load';
import type { Arch, GenerateStats, SamplingOptions } from '../../src/models/types';
import { generateStreams, type BatchDecoder, type GenOptions, type GenPhase, type GenStream, type GenTrace } from '../../src/engine/generation';
import { ReadbackCounter } from '../../src/engine/readbacks';
import { gpu } from '../gpu';

let server: Awaited<ReturnType<typeof startHubServer>>;
let counter: ReadbackCounter;
const models = {} as Record<Arch, LoadedModel>;
const PROMPT = 'The harbour master opened the ledger and wrote';

beforeAll(async () => {
  server = await startHubServer({ root: 'tests/fixtures/hub' });
  const ctx = await gpu();
  counter = new ReadbackCounter(ctx.device);
  for (const [slot, dir] of [['mamba', 'mamba'], ['transformer', 'pythia']] as const) {
    models[slot] = await loadModel(ctx, staticSource(`${server.url}/tiny-random/${dir}/resolve/main`), { client: new HubClient({ cache: false }) });
  }
}, 600_000);
afterAll(async () => {
  for (const m of Object.values(models)) m?.dispose();
  await server?.close();
});

interface Got {
  ids: Record<string, number[]>;
  /** Each onTokens call's size, per stream. */
  calls: Record<string, number[]>;
  stats: Map<Arch, GenerateStats>;
  traces: Record<string, GenTrace>;
  readbacks: Record<string, number>;
  order: string[];
}

async function run(slots: Arch[], opts: Partial<GenOptions> & { maxNew?: number; stop?: (slot: Arch) => number[] } = {}): Promise<Got> {
  const streams: GenStream<Arch>[] = slots.map((slot) => ({
    key: slot,
    model: models[slot] as unknown as BatchDecoder,
    prompt: models[slot].tokenizer.encode(PROMPT),
    maxNew: opts.maxNew ?? 20,
    stopIds: opts.stop?.(slot) ?? [],
  }));
  const got: Got = { ids: {}, calls: {}, stats: new Map(), traces: {}, readbacks: {}, order: [] };
  const before = counter.snapshot();
  const label = (slot: Arch, phase: GenPhase) => `${slot}:${phase}`;
  got.stats = await generateStreams(
    streams,
    { mode: opts.mode ?? 'interleaved', sampling: opts.sampling ?? { temperature: 0, topK: 0, topP: 1, seed: 0 }, batch: opts.batch, signal: opts.signal },
    {
      onTokens: (slot, ids, index) => {
        expect(index).toBe((got.ids[slot] ??= []).length);
        got.ids[slot].push(...ids);
        (got.calls[slot] ??= []).push(ids.length);
        got.order.push(slot);
      },
      onDone: (slot, _stats, trace) => (got.traces[slot] = trace),
      around: (slot, phase, fn) => counter.during(label(slot, phase), fn),
    },
  );
  const after = counter.snapshot();
  for (const k of Object.keys(after)) got.readbacks[k] = after[k] - (before[k] ?? 0);
  return got;
}

const opts = (s: SamplingOptions, maxNewTokens: number) => ({ ...s, maxNewTokens });

describe('generateStreams on a Mamba / GPT-NeoX pair', { timeout: 300_000 }, () => {
  it('side by side: the same greedy tokens as each model alone, one readback per batch of k, batches alternating', async () => {
    const k = 3;
    const g = await run(['mamba', 'transformer'], { batch: k, maxNew: 7 });
    for (const slot of ['mamba', 'transformer'] as Arch[]) {
      const own = await models[slot].generate(models[slot].tokenizer.encode(PROMPT), opts({ temperature: 0, topK: 0, topP: 1, seed: 0 }, 7));
      expect(g.ids[slot]).toEqual(own.ids);
      // first token alone (time to first token), then batches of k: 1 + 3 + 3
      expect(g.calls[slot]).toEqual([1, 3, 3]);
      expect(g.traces[slot]).toEqual({ batch: k, batches: 2 });
      expect(g.readbacks[`${slot}:decode`]).toBe(2); // 6 tokens / 3
      expect(g.readbacks[`${slot}:first`]).toBe(1);
      expect(g.readbacks[`${slot}:prefill`]).toBe(1); // prefill() returns the last logits
      const st = g.stats.get(slot)!;
      expect(st.newTokens).toBe(7);
      expect(st.stopReason).toBe('length');
      expect(st.decodeTokPerS).toBeGreaterThan(0);
      expect(st.ttftMs).toBeGreaterThan(0);
    }
    expect(g.readbacks.unlabelled).toBe(0);
    // both prefill first, then batches alternate
    expect(g.order).toEqual(['mamba', 'transformer', ...Array.from({ length: 2 }, () => ['mamba', 'transformer']).flat()]);
  });

  it('sampled (temperature, top-k, top-p): a seed gives the tokens of model.generate(), run after run and in either mode', async () => {
    const sampling = { temperature: 1.2, topK: 40, topP: 0.95, seed: 7 };
    const a = await run(['mamba', 'transformer'], { sampling, batch: 2, maxNew: 5 });
    const b = await run(['mamba', 'transformer'], { sampling, batch: 2, maxNew: 5, mode: 'sequential' });
    expect(b.order).toEqual([...Array(3).fill('mamba'), ...Array(3).fill('transformer')]); // 1 + 2 + 2 each, one model after the other
    for (const slot of ['mamba', 'transformer'] as Arch[]) {
      const own = await models[slot].generate(models[slot].tokenizer.encode(PROMPT), opts(sampling, 5));
      expect(a.ids[slot]).toEqual(own.ids);
      expect(b.ids[slot]).toEqual(own.ids);
    }
  });

  it("uses the model's own k by default, stops at a stop id inside a batch, and at the context limit", async () => {
    const greedy = await run(['transformer'], { maxNew: 10 });
    const k = (models.transformer as unknown as BatchDecoder).stepsPerSubmit!;
    expect(greedy.traces.transformer.batch).toBe(k);
    // stop at the 6th token: the batch that sampled it is cut there
    const stopAt = greedy.ids.transformer[5];
    const first = greedy.ids.transformer.indexOf(stopAt);
    const stopped = await run(['transformer'], { maxNew: 10, stop: () => [stopAt] });
    expect(stopped.ids.transformer).toEqual(greedy.ids.transformer.slice(0, first + 1));
    expect(stopped.stats.get('transformer')!.stopReason).toBe('eos');

    const m = models.mamba as unknown as { maxContext: number };
    const P = models.mamba.tokenizer.encode(PROMPT).length;
    const saved = Object.getOwnPropertyDescriptor(m, 'maxContext');
    Object.defineProperty(m, 'maxContext', { value: P + 5, configurable: true });
    try {
      const streams: GenStream<Arch>[] = [{ key: 'mamba', model: m as unknown as BatchDecoder, prompt: models.mamba.tokenizer.encode(PROMPT), maxNew: 5, cutByContext: true, stopIds: [] }];
      const stats = await generateStreams(streams, { mode: 'interleaved', sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 }, batch: 3 }, { onTokens: () => {} });
      expect(stats.get('mamba')!.newTokens).toBe(5);
      expect(stats.get('mamba')!.stopReason).toBe('context');
    } finally {
      if (saved) Object.defineProperty(m, 'maxContext', saved);
      else delete (m as { maxContext?: number }).maxContext;
    }
  });

  it('stops when cancelled and reports the streams as aborted', async () => {
    const ac = new AbortController();
    let seen = 0;
    const stats = await generateStreams(
      (['mamba', 'transformer'] as Arch[]).map((slot) => ({ key: slot, model: models[slot] as unknown as BatchDecoder, prompt: models[slot].tokenizer.encode(PROMPT), maxNew: 200, stopIds: [] })),
      { mode: 'interleaved', sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 }, batch: 4, signal: ac.signal },
      { onTokens: (_s, ids) => { seen += ids.length; if (seen >= 10) ac.abort(); } },
    );
    for (const slot of ['mamba', 'transformer'] as Arch[]) {
      expect(stats.get(slot)!.stopReason).toBe('aborted');
      expect(stats.get(slot)!.newTokens).toBeLessThan(20);
    }
  });

  it('reports prefill progress, and a cancel during the prefill stops the run there with no tokens', async () => {
    const m = models.transformer as unknown as { prefillChunk: number };
    const chunk = m.prefillChunk;
    m.prefillChunk = 128;
    try {
      const ac = new AbortController();
      const progress: [string, number, number][] = [];
      const prompt = Array.from({ length: 400 }, (_, i) => 1 + ((i * 37) % 200));
      const stats = await generateStreams(
        (['transformer', 'mamba'] as Arch[]).map((slot) => ({ key: slot, model: models[slot] as unknown as BatchDecoder, prompt, maxNew: 8, stopIds: [] })),
        { mode: 'interleaved', sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 }, signal: ac.signal },
        {
          onTokens: () => { throw new Error('no token may come after a cancel during the prefill'); },
          onPrefill: (slot, done, total) => {
            progress.push([slot, done, total]);
            if (done >= 128) ac.abort();
          },
        },
      );
      // the first chunk (128 tokens) reported with the prompt's length, then the run stopped before the next
      expect(progress).toEqual([['transformer', 128, 400]]);
      expect(stats.get('transformer')).toMatchObject({ stopReason: 'aborted', newTokens: 0 });
      expect(stats.has('mamba')).toBe(false); // never started
    } finally {
      m.prefillChunk = chunk;
    }
  });

  it('refuses an empty prompt and a model without decodeBatch', async () => {
    const noop = { onTokens: () => {} };
    const o: GenOptions = { mode: 'interleaved', sampling: { temperature: 0, topK: 0, topP: 1, seed: 0 } };
    await expect(generateStreams([{ key: 'mamba', model: models.mamba as unknown as BatchDecoder, prompt: [], maxNew: 3, stopIds: [] }], o, noop)).rejects.toThrow(/empty/);
    const bare = { name: 'bare', maxContext: 100, reset() {}, prefill: async () => new Float32Array(1) } as unknown as BatchDecoder;
    await expect(generateStreams([{ key: 'x', model: bare, prompt: [1, 2], maxNew: 3, stopIds: [] }], o, noop)).rejects.toThrow(/cannot decode in batches/);
  });
});

describe('ReadbackCounter', () => {
  it('counts every mapAsync(READ) under the running label, and none for other buffers', async () => {
    const ctx = await gpu();
    const before = counter.snapshot();
    const buf = ctx.upload(new Float32Array([1, 2, 3, 4]));
    await counter.during('test:a', async () => {
      await ctx.readF32(buf, 4);
      await ctx.readF32(buf, 2);
    });
    await ctx.readF32(buf, 1);
    const after = counter.snapshot();
    expect(after['test:a']).toBe(2);
    expect(after.unlabelled - before.unlabelled).toBe(1);
    expect(after.total - before.total).toBe(3);
    ctx.pool.release(buf);
  });
});
