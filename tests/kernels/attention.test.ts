import { describe, expect, it } from 'vitest';
import { gpu, poisoned, randArray, relErr } from '../gpu';
import { Attention, DecodeAttention, FlashAttention, ReferenceAttention, fusedQkvLayout } from '../../src/kernels/attention';
import { rowwiseTiles } from '../../src/kernels/attention_flash_plan';
import { RotaryKvKernel } from '../../src/kernels/rotary';
import { KvCache } from './kvcache';
import { LimitExceededError } from '../../src/gpu/errors';
import { attentionReference, decodeAttentionReference } from '../../src/reference/attention';
import { rotaryDims } from '../../src/math/rotary';
import { rotaryKvReference } from '../../src/reference/rotary';
import { TOL, makeInputs, runPrefill, prefillShapes } from './attention-cases';

describe('reference attention (materialised scores)', () => {
  for (const [n, s] of prefillShapes.entries()) {
    it(`H=${s.H} hd=${s.hd} L=${s.L} pos0=${s.pos0}`, async () => {
      const ctx = await gpu('gpu');
      const maxLen = s.pos0 + s.L + 5;
      const k = new ReferenceAttention(ctx, { H: s.H, hd: s.hd, maxLen });
      const err = await runPrefill(ctx, k, s.H, s.hd, s.L, s.pos0, maxLen, 10 + n);
      k.destroy();
      expect(err).toBeLessThan(TOL);
    });
  }

  it('throws LimitExceededError when the score buffer does not fit', async () => {
    const ctx = await gpu('gpu');
    const H = 16;
    const L = Math.ceil(Math.sqrt(ctx.limits.maxStorageBufferBindingSize / (4 * H))) + 1;
    const k = new ReferenceAttention(ctx, { H, hd: 64, maxLen: L });
    expect(() => k.checkFits(L, 0)).toThrow(LimitExceededError);
    const tiny = ctx.buffer(16);
    expect(() => ctx.run((pass) => k.encode(pass, { q: tiny, kCache: tiny, vCache: tiny, out: tiny, L, pos0: 0 }))).toThrow(/maxStorageBufferBindingSize|maxBufferSize/);
    ctx.pool.release(tiny);
    expect(() => k.checkFits(64, 0)).not.toThrow();
  });
});

describe('flash attention, rowwise kernel (the fallback)', () => {
  for (const [n, s] of prefillShapes.entries()) {
    it(`H=${s.H} hd=${s.hd} L=${s.L} pos0=${s.pos0} (16 KiB tiles)`, async () => {
      const ctx = await gpu('gpu');
      const maxLen = s.pos0 + s.L + 5;
      const k = new FlashAttention(ctx, { H: s.H, hd: s.hd, maxLen }, { maxWorkgroupStorage: 16384, kernel: 'rowwise' });
      expect(k.tiles.kernel).toBe('rowwise');
      expect(k.tiles.storage).toBeLessThanOrEqual(16384);
      const err = await runPrefill(ctx, k, s.H, s.hd, s.L, s.pos0, maxLen, 10 + n);
      expect(err).toBeLessThan(TOL);
    });
  }

  it('device-limit tiles and odd forced tiles (BR=16, BC=12) on L=131 pos0=17', async () => {
    const ctx = await gpu('gpu');
    const H = 2, hd = 64, L = 131, pos0 = 17, maxLen = 160;
    const big = new FlashAttention(ctx, { H, hd, maxLen }, { kernel: 'rowwise' });
    expect(await runPrefill(ctx, big, H, hd, L, pos0, maxLen, 3)).toBeLessThan(TOL);
    const odd = new FlashAttention(ctx, { H, hd, maxLen }, { kernel: 'rowwise', BR: 16, BC: 12 });
    expect(await runPrefill(ctx, odd, H, hd, L, pos0, maxLen, 4)).toBeLessThan(TOL);
  });

  it('tile table at the 16 KiB default', () => {
    expect(rowwiseTiles(64, 16384, 256)).toMatchObject({ G: 2, BR: 64, BC: 16 });
    // Head dims the old kernel refused: 10 (3 vec4s), 36 (9: G 2, padded to 10), 72 (18: G 4, padded to 20).
    expect(rowwiseTiles(10, 16384, 256)).toMatchObject({ G: 1, BR: 64, BC: 44, storage: 44 * (2 * 3 * 16 + 64 * 4) });
    expect(rowwiseTiles(36, 16384, 256)).toMatchObject({ G: 2, BR: 64, BC: 16, storage: 16 * (2 * 10 * 16 + 64 * 2 * 4) });
    expect(rowwiseTiles(72, 16384, 256)).toMatchObject({ G: 4 });
    expect(rowwiseTiles(128, 16384, 256)).toMatchObject({ G: 4, BR: 64, BC: 8 });
    expect(rowwiseTiles(256, 16384, 256)).toMatchObject({ G: 8, BR: 32, BC: 4 });
    expect(rowwiseTiles(32, 16384, 256)).toMatchObject({ G: 1, BR: 64 });
  });
});

describe('decode attention (split-K over the KV cache)', () => {
  const H = 4, hd = 64, maxLen = 1001;
  for (const pos of [0, 1, 130, 1000]) {
    it(`H=${H} hd=${hd} pos=${pos}`, async () => {
      const ctx = await gpu('gpu');
      const { q, k, v } = makeInputs(H, hd, 1, pos, maxLen, 50 + pos);
      const ref = decodeAttentionReference(q, k, v, { H, hd, pos, maxLen });
      const qb = ctx.upload(q);
      const kb = ctx.upload(k, 'kv-cache');
      const vb = ctx.upload(v, 'kv-cache');
      for (const chunk of [undefined, 16]) {
        const dec = new DecodeAttention(ctx, { H, hd, maxLen }, { chunk });
        const ob = poisoned(ctx, H * hd);
        ctx.run((pass) => dec.encode(pass, { q: qb, kCache: kb, vCache: vb, out: ob, pos }));
        const out = await ctx.readF32(ob, H * hd);
        ctx.pool.release(ob);
        dec.destroy();
        expect(relErr(out, ref), `chunk=${chunk ?? 'auto'} plan=${JSON.stringify(dec.plan(pos))}`).toBeLessThan(TOL);
      }
      for (const b of [qb, kb, vb]) ctx.pool.release(b);
    });
  }

  it('hd=128 and hd=256 at pos=300', async () => {
    const ctx = await gpu('gpu');
    for (const hd2 of [128, 256]) {
      const H2 = 2, pos = 300, ml = 320;
      const { q, k, v } = makeInputs(H2, hd2, 1, pos, ml, 7);
      const ref = decodeAttentionReference(q, k, v, { H: H2, hd: hd2, pos, maxLen: ml });
      const dec = new DecodeAttention(ctx, { H: H2, hd: hd2, maxLen: ml });
      const qb = ctx.upload(q), kb = ctx.upload(k), vb = ctx.upload(v), ob = poisoned(ctx, H2 * hd2);
      ctx.run((pass) => dec.encode(pass, { q: qb, kCache: kb, vCache: vb, out: ob, pos }));
      expect(relErr(await ctx.readF32(ob, H2 * hd2), ref)).toBeLessThan(TOL);
      for (const b of [qb, kb, vb, ob]) ctx.pool.release(b);
      dec.destroy();
    }
  });
});

describe('rotary + cache + attention chain (Attention wrapper, model data path)', () => {
  // The model's path: rotary rotates q in place inside the fused qkv [L, H, 3, hd], attention reads q from there
  // (fusedQkvLayout) and writes into a strided view of the output (here offset 4, row stride H*hd + 8).
  // hd 64 with out offset 4: vec4 IO; out offset 3: the scalar IO on a head dim multiple of 4; hd 10 (5 heads, like
  // the pythia-hd10 fixture): scalar IO, q read in place at odd offsets (no decode there: the decode kernel's own).
  const chainCases = [
    { H: 3, hd: 64, outOffset: 4, decode: true },
    { H: 3, hd: 64, outOffset: 3, decode: false },
    { H: 5, hd: 10, outOffset: 4, decode: false },
  ];
  for (const { H, hd, outOffset, decode } of chainCases) it(`H=${H} hd=${hd} out offset ${outOffset}: prefill 40, chunk of 23 at pos0=40 (flash tiled and rowwise, reference)${decode ? ', decode at 63' : ''}`, async () => {
    const ctx = await gpu('gpu');
    const pct = 0.25, base = 10000, maxLen = 70;
    const rot = rotaryDims(hd, pct);
    const rotary = new RotaryKvKernel(ctx, { H, hd, rot, base });
    const cache = new KvCache(ctx, H, hd, maxLen, 'test');
    const att = new Attention(ctx, { H, hd });
    expect(att.variant).toBe('flash');
    const rowwise = new FlashAttention(ctx, { H, hd }, { kernel: 'rowwise' });
    const tiled = new FlashAttention(ctx, { H, hd }, { kernel: 'tiled', BR: 16, BC: 16, redInV: true });
    const kRef = new Float32Array(H * maxLen * hd);
    const vRef = new Float32Array(H * maxLen * hd);
    const outRow = H * hd + 8;

    const chunks: [number, number][] = decode ? [[0, 40], [40, 23], [63, 1]] : [[0, 40], [40, 23]];
    for (const [pos0, L] of chunks) {
      const qkv = randArray(L * 3 * H * hd, 1000 + pos0);
      const qRef = rotaryKvReference(qkv, { L, H, hd, rot, pos0, maxLen, base }, kRef, vRef);
      const outRef = attentionReference(qRef, kRef, vRef, { H, hd, L, pos0, maxLen });
      const qkvB = ctx.upload(qkv);
      ctx.run((pass) => rotary.encodeArgs(pass, { qkv: qkvB, kCache: cache.k, vCache: cache.v, L, pos0, maxLen }));
      cache.length = pos0 + L;
      const qLayout = fusedQkvLayout(H, hd);
      const variants = L === 1 ? ['decode'] : ['flash', 'reference', 'rowwise', 'tiled'];
      for (const variant of variants) {
        const outB = poisoned(ctx, outOffset + L * outRow);
        const outLayout = { offset: outOffset, rowStride: outRow };
        ctx.run((pass) => {
          if (variant === 'decode') att.encodeDecode(pass, { q: qkvB, qLayout, kCache: cache.k, vCache: cache.v, out: outB, outLayout, pos: pos0, maxLen });
          else if (variant === 'rowwise' || variant === 'tiled') (variant === 'rowwise' ? rowwise : tiled).encode(pass, { q: qkvB, qLayout, kCache: cache.k, vCache: cache.v, out: outB, outLayout, L, pos0, maxLen });
          else att.encode(pass, { q: qkvB, qLayout, kCache: cache.k, vCache: cache.v, out: outB, outLayout, L, pos0, maxLen }, variant as 'flash' | 'reference');
        });
        const raw = await ctx.readF32(outB, outOffset + L * outRow);
        const out = new Float32Array(L * H * hd);
        for (let i = 0; i < L; i++) out.set(raw.subarray(outOffset + i * outRow, outOffset + i * outRow + H * hd), i * H * hd);
        expect(relErr(out, outRef), `${variant} pos0=${pos0} L=${L}`).toBeLessThan(TOL);
        ctx.pool.release(outB);
      }
      ctx.pool.release(qkvB);
    }
    att.destroy();
    rotary.destroy();
    cache.destroy();
  });
});
