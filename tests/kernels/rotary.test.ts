import { describe, expect, it } from 'vitest';
import { gpu, poisoned, randArray, relErr, maxRelErr } from '../gpu';
import { RotaryKvKernel } from '../../src/kernels/rotary';
import { rotaryDims } from '../../src/math/rotary';
import { rotaryKvReference } from '../../src/reference/rotary';

interface Case { H: number; hd: number; L: number; pos0: number; pct: number; maxLen: number }

async function runCase(c: Case, seed: number) {
  const ctx = await gpu();
  const { H, hd, L, pos0, pct, maxLen } = c;
  const base = 10000;
  const rot = rotaryDims(hd, pct);
  const qkv = randArray(L * 3 * H * hd, seed);
  const kRef = new Float32Array(H * maxLen * hd).fill(NaN);
  const vRef = new Float32Array(H * maxLen * hd).fill(NaN);
  const qRef = rotaryKvReference(qkv, { L, H, hd, rot, pos0, maxLen, base }, kRef, vRef);
  const k64 = new Float32Array(H * maxLen * hd);
  const q64 = rotaryKvReference(qkv, { L, H, hd, rot, pos0, maxLen, base }, k64, new Float32Array(H * maxLen * hd), 'f64');

  const kernel = new RotaryKvKernel(ctx, { H, hd, rotaryPct: pct, base, maxLen });
  const qkvBuf = ctx.upload(qkv);
  const qBuf = poisoned(ctx, H * L * hd);
  const kBuf = poisoned(ctx, H * maxLen * hd, 'kv-cache');
  const vBuf = poisoned(ctx, H * maxLen * hd, 'kv-cache');
  ctx.run((pass) => kernel.encode(pass, qkvBuf, qBuf, kBuf, vBuf, L, pos0));
  const q = await ctx.readF32(qBuf, H * L * hd);
  const k = await ctx.readF32(kBuf, H * maxLen * hd);
  const v = await ctx.readF32(vBuf, H * maxLen * hd);
  // In place: rotated q back into the q part of qkv, caches written again (identically).
  const qkvIn = ctx.upload(qkv);
  const kBuf2 = poisoned(ctx, H * maxLen * hd, 'kv-cache');
  ctx.run((pass) => kernel.encodeArgs(pass, { qkv: qkvIn, kCache: kBuf2, vCache: vBuf, L, pos0 }));
  const qkvOut = await ctx.readF32(qkvIn, L * 3 * H * hd);
  const k2 = await ctx.readF32(kBuf2, H * maxLen * hd);
  ctx.pool.release(qkvIn);
  ctx.pool.release(kBuf2);
  let inPlaceOk = true;
  for (let t = 0; t < L; t++) for (let h = 0; h < H; h++) for (let i = 0; i < hd; i++) {
    const row = (t * H + h) * 3 * hd;
    if (qkvOut[row + i] !== q[(h * L + t) * hd + i]) inPlaceOk = false;   // same arithmetic, bit-identical
    if (qkvOut[row + hd + i] !== qkv[row + hd + i] || qkvOut[row + 2 * hd + i] !== qkv[row + 2 * hd + i]) inPlaceOk = false;
  }
  for (let x = 0; x < k.length; x++) if (!Object.is(k[x], k2[x])) inPlaceOk = false;
  for (const b of [qkvBuf, qBuf, kBuf, vBuf]) ctx.pool.release(b);

  // Written rows vs oracle; rows outside pos0..pos0+L-1 must stay untouched (NaN).
  const pick = (a: Float32Array) => {
    const out: number[] = [];
    for (let h = 0; h < H; h++) for (let p = pos0; p < pos0 + L; p++) for (let i = 0; i < hd; i++) out.push(a[(h * maxLen + p) * hd + i]);
    return out;
  };
  let untouched = true;
  for (let h = 0; h < H; h++) for (let p = 0; p < maxLen; p++) {
    if (p >= pos0 && p < pos0 + L) continue;
    for (let i = 0; i < hd; i++) if (!Number.isNaN(k[(h * maxLen + p) * hd + i]) || !Number.isNaN(v[(h * maxLen + p) * hd + i])) untouched = false;
  }
  return {
    q: relErr(q, qRef),
    k: relErr(pick(k), pick(kRef)),
    v: maxRelErr(pick(v), pick(vRef), 0),
    qVsF64: relErr(q, q64),
    kVsF64: relErr(pick(k), pick(k64)),
    untouched,
    inPlaceOk,
  };
}

describe('rotary + KV cache write (GPT-NeoX rotate_half)', () => {
  const cases: Case[] = [
    { H: 4, hd: 64, L: 1, pos0: 0, pct: 0.25, maxLen: 8 },
    { H: 3, hd: 32, L: 131, pos0: 0, pct: 0.25, maxLen: 140 },
    { H: 3, hd: 32, L: 131, pos0: 0, pct: 0.5, maxLen: 131 },
    { H: 2, hd: 64, L: 23, pos0: 40, pct: 1.0, maxLen: 70 },
    { H: 2, hd: 48, L: 7, pos0: 5, pct: 0.5, maxLen: 12 },
  ];
  for (const [n, c] of cases.entries()) {
    it(`H=${c.H} hd=${c.hd} L=${c.L} pos0=${c.pos0} rotary_pct=${c.pct}`, async () => {
      const r = await runCase(c, 100 + n);
      expect(r.untouched).toBe(true);
      expect(r.inPlaceOk).toBe(true);
      expect(r.q).toBeLessThan(1e-6);
      expect(r.k).toBeLessThan(1e-6);
      expect(r.v).toBe(0);
    });
  }

  // Positions up to 4096: the f32 angle pos * inv_freq carries ~ulp(pos) of error relative to exact math, so the
  // oracle uses transformers' float32 angle; vs float64 math the error is reported, with a looser bound.
  for (const pct of [0.25, 1.0]) {
    it(`long positions 4033..4096, rotary_pct=${pct}`, async () => {
      const r = await runCase({ H: 2, hd: 64, L: 64, pos0: 4033, pct, maxLen: 4097 }, 7);
      console.log(`rotary pct=${pct} pos 4033..4096: relErr q=${r.q.toExponential(2)} k=${r.k.toExponential(2)} (vs float64 angles: q=${r.qVsF64.toExponential(2)} k=${r.kVsF64.toExponential(2)})`);
      expect(r.untouched).toBe(true);
      expect(r.q).toBeLessThan(1e-4);
      expect(r.k).toBeLessThan(1e-4);
      expect(r.qVsF64).toBeLessThan(5e-4);
    });
  }

  it('rejects odd rot and overflowing the cache', async () => {
    const ctx = await gpu();
    expect(() => new RotaryKvKernel(ctx, { H: 1, hd: 10, rotaryPct: 0.3, base: 10000, maxLen: 4 })).toThrow(/odd/);
    const k = new RotaryKvKernel(ctx, { H: 1, hd: 8, rotaryPct: 0.5, base: 10000, maxLen: 4 });
    const b = ctx.buffer(1024);
    expect(() => ctx.run((pass) => k.encode(pass, b, b, b, b, 3, 2))).toThrow(/maxLen/);
    k.destroy();
    ctx.pool.release(b);
  });
});
