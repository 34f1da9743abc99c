import { describe, expect, it } from 'vitest';
import { gpu, randArray, relErr, poisoned } from '../gpu';
import { AttentionRowProbsKernel, DeltaMeanKernel } from '../../src/kernels/diagnostics';
import { attentionRowProbsRef, deltaMeanRef } from '../../src/reference/diagnostics';

describe('selectivity-view kernels', () => {
  it('delta_mean matches the oracle (strided view, D not a multiple of 64, output offset)', async () => {
    const ctx = await gpu();
    for (const [L, D, stride, off, outOff] of [[1, 48, 48, 0, 0], [37, 100, 130, 7, 5], [300, 512, 512, 0, 300]]) {
      const packed = randArray(L * D, L + D, -9, 4); // softplus(−9 + bias) ~ 1e-4: the small-Δ regime of real models
      const bias = randArray(D, D, -1, 1);
      const host = new Float32Array(off + L * stride);
      for (let t = 0; t < L; t++) host.set(packed.subarray(t * D, (t + 1) * D), off + t * stride);
      const k = new DeltaMeanKernel(ctx, D);
      const xb = ctx.upload(host), bb = ctx.upload(bias), ob = poisoned(ctx, outOff + L);
      ctx.run((pass) => k.encode(pass, { buffer: xb, offset: off, rowStride: stride }, bb, { buffer: ob, offset: outOff }, L));
      const got = await ctx.readF32(ob, outOff + L);
      expect(relErr(got.subarray(outOff), deltaMeanRef(packed, bias, L, D)), `L=${L} D=${D}`).toBeLessThan(1e-5);
      for (let i = 0; i < outOff; i++) expect(Number.isNaN(got[i]), `untouched before the offset (${i})`).toBe(true);
    }
  });

  it('delta_mean covers more than 32768 tokens (2-D grid)', async () => {
    const ctx = await gpu();
    const L = 33000, D = 3;
    const x = randArray(L * D, 11, -3, 3), bias = randArray(D, 12);
    const k = new DeltaMeanKernel(ctx, D);
    const xb = ctx.upload(x), bb = ctx.upload(bias), ob = poisoned(ctx, L);
    ctx.run((pass) => k.encode(pass, xb, bb, { buffer: ob, offset: 0 }, L));
    expect(relErr(await ctx.readF32(ob, L), deltaMeanRef(x, bias, L, D))).toBeLessThan(1e-5);
  });

  it('attention_row_probs matches the oracle on the fused qkv layout and sums to 1', async () => {
    const ctx = await gpu();
    const H = 4, hd = 16, maxLen = 320;
    for (const n of [1, 5, 257, 320]) {
      // one fused qkv row [H, 3, hd] at float offset 3·3·H·hd (row 3 of a 5-row activation)
      const qkv = randArray(5 * 3 * H * hd, n, -2, 2);
      const qOff = 3 * 3 * H * hd;
      const kCache = randArray(H * maxLen * hd, n + 1, -2, 2);
      const k = new AttentionRowProbsKernel(ctx, H, hd);
      const qb = ctx.upload(qkv), kb = ctx.upload(kCache), ob = poisoned(ctx, n + 8);
      ctx.run((pass) => k.encode(pass, { q: qb, qOffset: qOff, qHeadStride: 3 * hd, kCache: kb, maxLen, n, out: { buffer: ob, offset: 8 } }));
      const got = (await ctx.readF32(ob, n + 8)).subarray(8);
      const ref = attentionRowProbsRef(qkv, kCache, { H, hd, n, maxLen, qOff, qHeadStride: 3 * hd });
      expect(relErr(got, ref), `n=${n}`).toBeLessThan(1e-5);
      expect(Math.abs(got.reduce((a, b) => a + b, 0) - 1), `n=${n} sum`).toBeLessThan(1e-5);
    }
  });

  it('rejects views that do not fit', async () => {
    const ctx = await gpu();
    const k = new DeltaMeanKernel(ctx, 64);
    const small = ctx.buffer(64 * 4);
    expect(() => ctx.run((pass) => k.encode(pass, small, small, { buffer: small, offset: 0 }, 2))).toThrow(/view needs 128 floats/);
    const a = new AttentionRowProbsKernel(ctx, 2, 8);
    expect(() => ctx.run((pass) => a.encode(pass, { q: small, qOffset: 0, qHeadStride: 8, kCache: small, maxLen: 16, n: 17, out: { buffer: small, offset: 0 } }))).toThrow(/n = 17/);
  });
});
