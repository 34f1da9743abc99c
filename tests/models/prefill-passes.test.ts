/**
 * Prefill passes sized from the device (src/models/base.ts passRows): a long prompt goes through each layer in as few
 * passes as the activation budget and the binding limits allow (the long-L scan path the kernel benchmarks measure),
 * with the logits of short passes; out of memory backs off to shorter passes, never below the floor (1024 tokens in
 * use; below it a prefill fails as before, losing nothing); the long pass's activations are released afterwards.
 */
import { describe, expect, it } from 'vitest';
import { PASS_FLOOR } from '../../src/models/base';
import type { LoadedModel } from '../../src/models/load';
import { randomIds } from '../../src/engine/sweep';
import { gpu, relErr } from '../gpu';
import { tinyHub } from './tiny';

const hub = tinyHub();
type Sized = LoadedModel & {
  prefillChunk: number | null; prefillBudget: number; passRows(left: number, pos: number, all?: boolean): number; passRowBytes(): { total: number }; releasePassBuffers(): void; passFloor: number;
};

describe.each(['mamba', 'pythia'])('prefill passes: tiny-random/%s', (name) => {
  it('one long pass where it fits, the logits of short passes, its activations released after; out of memory backs off', { timeout: 300_000 }, async () => {
    const ctx = await gpu();
    const m = (await hub.load(name)) as Sized;
    try {
      // passes never shorter than 64 tokens here (1024 in use), so that short prompts take the same paths
      m.passFloor = 64;
      const ids = randomIds(200, m.vocabSize, 9);
      m.reset();
      const long = await m.prefill(ids);
      expect(m.lastPrefill).toMatchObject({ tokens: 200, passes: 1, passTokens: 200 });
      const row = m.passRowBytes().total;
      const held = m.lastPrefill!.activationBytes;
      expect(held - m.memoryHeld().activations).toBeGreaterThanOrEqual(200 * row); // the pass's buffers went back to the pool
      expect(m.memory().activations).toBeGreaterThanOrEqual(200 * row); // and the sequence still counts what it needed

      m.prefillChunk = 64; // passes of the floor, as every prefill ran before they were sized
      m.reset();
      const chunked = await m.prefill(ids);
      expect(m.lastPrefill).toMatchObject({ passes: 4, passTokens: 64 });
      expect(relErr(long, chunked)).toBeLessThan(1e-4);
      m.prefillChunk = null;

      // out of memory for the long pass: shorter ones (half as long, not below the floor), the same logits
      m.reset();
      m.releasePassBuffers(); // the 64-token passes' buffers (kept: not longer than the floor)
      ctx.pool.trim();
      ctx.pool.memoryCap = ctx.pool.totalLiveBytes() + 150 * row;
      try {
        const backedOff = await m.prefill(ids);
        expect(relErr(backedOff, long)).toBeLessThan(1e-4);
        expect(m.lastPrefill).toMatchObject({ passes: 2, passTokens: 100 });
        // not even the floor fits: out of memory, as before, and nothing left behind
        m.reset();
        m.releasePassBuffers();
        ctx.pool.trim();
        const before = m.memory();
        ctx.pool.memoryCap = ctx.pool.totalLiveBytes() + 32 * row;
        await expect(m.prefill(ids)).rejects.toMatchObject({ code: 'out-of-memory' });
        expect(m.memory()).toEqual(before);
      } finally {
        ctx.pool.memoryCap = null;
      }

      // the budget sizes the passes: even passes over the prompt, none below the floor
      m.prefillBudget = 130 * row;
      expect(m.passRows(250, 0)).toBe(125);
      expect(m.passRows(150, 0)).toBe(75);
      expect(m.passRows(120, 0)).toBe(120);
      m.prefillBudget = 1;
      expect(m.passRows(250, 0)).toBe(64);
      expect(m.passRows(50, 0)).toBe(50);
      m.passFloor = PASS_FLOOR;
      expect(m.passRows(2500, 0)).toBe(1024);
    } finally {
      m.dispose();
    }
  });
});

describe('prefill passes: limits', () => {
  it("the reference attention's score matrix bounds a pass; flash does not", { timeout: 120_000 }, async () => {
    const ctx = await gpu();
    const m = (await hub.load('pythia')) as Sized;
    try {
      m.prefillBudget = Infinity;
      const H = (m.config as { numAttentionHeads: number }).numAttentionHeads;
      const binding = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
      const flash = m.passRows(1 << 17, 20_000);
      m.kernels = { ...m.kernels, attention: 'reference' };
      for (const pos of [0, 20_000, 100_000]) {
        const n = m.passRows(1 << 17, pos);
        expect(n).toBeGreaterThanOrEqual(PASS_FLOOR);
        // the largest pass whose [H, n, pos + n] scores fit, unless that is below the floor (it then fails as before)
        if (n > PASS_FLOOR) expect(H * n * (pos + n) * 4).toBeLessThanOrEqual(binding);
        expect(n).toBeLessThan(flash);
      }
      // all logits come back: a pass's [n, V] logits fit one binding too
      m.kernels = { ...m.kernels, attention: 'flash' };
      expect(m.passRows(1 << 17, 0, true) * m.vocabSize * 4).toBeLessThanOrEqual(binding);
    } finally {
      m.dispose();
    }
  });
});
