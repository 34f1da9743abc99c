/**
 * memory() reports what the current sequence needs, not what earlier runs left allocated: a short run after a long
 * one gives the same figures as on a freshly loaded model (the KV cache for its tokens, the activations of its
 * widest pass), while memoryHeld() keeps counting the grown buffers. Also prefill progress and cancellation between
 * chunks (Compare's long prompts).
 */
import { describe, expect, it } from 'vitest';
import { tinyGolden, tinyHub } from './tiny';
import type { LoadedModel } from '../../src/models/load';
import type { ModelMemory } from '../../src/models/types';

const hub = tinyHub();
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };

async function shortRun(m: LoadedModel, ids: number[]): Promise<ModelMemory> {
  await m.generate(ids.slice(0, 12), { ...GREEDY, maxNewTokens: 3 });
  return m.memory();
}

describe.each(['pythia', 'mamba'])('memory needed: tiny-random/%s', (name) => {
  it('a short run after a long one needs what it needs on a fresh model; held capacity is counted apart', async () => {
    const g = tinyGolden<{ long_ids: number[] }>(name);
    const fresh = await hub.load(name);
    let freshMem: ModelMemory;
    try {
      freshMem = await shortRun(fresh, g.long_ids);
    } finally {
      fresh.dispose();
    }
    const m = await hub.load(name);
    try {
      (m as unknown as { prefillChunk: number }).prefillChunk = 128;
      await m.generate([...g.long_ids, ...g.long_ids], { ...GREEDY, maxNewTokens: 2 }); // 600 tokens, chunks of 128
      const long = m.memory();
      const heldAfterLong = m.memoryHeld();
      const after = await shortRun(m, g.long_ids);
      expect(after).toEqual(freshMem);
      expect(long.activations).toBeGreaterThan(after.activations);
      // the grown buffers are still held, and reported as held
      expect(m.memoryHeld().activations).toBe(heldAfterLong.activations);
      expect(m.memoryHeld().activations).toBeGreaterThan(after.activations);
      if (name === 'pythia') {
        const c = (m as unknown as { config: { numHiddenLayers: number; hiddenSize: number } }).config;
        const perToken = 2 * c.numHiddenLayers * c.hiddenSize * 4;
        // 12 prompt tokens + 2 of the 3 samples went through the model (the last one is only in the history)
        expect(after.kvCache).toBe(14 * perToken);
        expect(long.kvCache).toBe(601 * perToken);
        expect(m.memoryHeld().kvCache).toBeGreaterThanOrEqual(long.kvCache);
      } else {
        expect(after.kvCache).toBe(0);
        expect(after.ssmState).toBe(long.ssmState);
        expect(after.ssmState).toBeGreaterThan(0);
      }
    } finally {
      m.dispose();
    }
  });

  it('prefill reports progress chunk by chunk and stops between chunks when cancelled', async () => {
    const g = tinyGolden<{ long_ids: number[] }>(name);
    const m = await hub.load(name);
    try {
      (m as unknown as { prefillChunk: number }).prefillChunk = 64;
      const seen: [number, number][] = [];
      await m.prefill(g.long_ids, { onProgress: (d, t) => seen.push([d, t]) });
      expect(seen).toEqual([[64, 300], [128, 300], [192, 300], [256, 300], [300, 300]]);
      m.reset();
      const ac = new AbortController();
      const done: number[] = [];
      const run = m.prefill(g.long_ids, { signal: ac.signal, onProgress: (d) => { done.push(d); if (d >= 128) ac.abort(); } });
      await expect(run).rejects.toMatchObject({ name: 'AbortError' });
      expect(done).toEqual([64, 128]);
      // the model still works: a fresh sequence prefills fine
      m.reset();
      const logits = await m.prefill(g.long_ids.slice(0, 10));
      expect(logits.every(Number.isFinite)).toBe(true);
    } finally {
      m.dispose();
    }
  });
});
