/**
 * Out of memory mid-run (the page's sweeps stop there): with the pool capped, a prefill that needs a bigger KV cache
 * or bigger activations fails with an out-of-memory error, leaves no half-allocated buffers behind, and the model
 * still works afterwards (same logits as the golden fixture).
 */
import { describe, expect, it } from 'vitest';
import { gpu, relErr } from '../gpu';
import { tinyGolden, tinyHub } from './tiny';

const hub = tinyHub();

describe.each(['pythia', 'mamba'])('memory cap: tiny-random/%s', (name) => {
  it('a prefill past the cap fails as out of memory and loses nothing', async () => {
    const ctx = await gpu();
    const g = tinyGolden<{ long_ids: number[]; long_last_logits: number[]; vocab_size: number }>(name);
    const m = await hub.load(name);
    try {
      await m.prefill(g.long_ids.slice(0, 16)); // small buffers in place
      ctx.pool.trim();
      const before = m.memoryHeld();
      ctx.pool.memoryCap = ctx.pool.totalLiveBytes() + 8192; // room for almost nothing more
      m.reset();
      await expect(m.prefill(g.long_ids)).rejects.toMatchObject({ code: 'out-of-memory' });
      // no half-grown cache or activations left behind (the old, smaller activations may have been released)
      const after = m.memoryHeld();
      expect(after.kvCache).toBe(before.kvCache);
      expect(after.ssmState).toBe(before.ssmState);
      expect(after.weights).toBe(before.weights);
      expect(after.activations).toBeLessThanOrEqual(before.activations);
      ctx.pool.memoryCap = null;
      m.reset();
      const last = await m.prefill(g.long_ids);
      const V = g.vocab_size;
      expect(relErr(last, g.long_last_logits.slice(4 * V, 5 * V))).toBeLessThan(1e-3);
    } finally {
      ctx.pool.memoryCap = null;
      m.dispose();
    }
  });
});
