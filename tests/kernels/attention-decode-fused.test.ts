/**
 * GPT-NeoX fused decode attention (attention_decode_rope_split.wgsl + attention_decode_out.wgsl) against the CPU
 * oracle: rotary on q and k, K/V appended at pos, softmax(q Kᵀ/√hd) V over rows 0..pos, then x += dense(att) + bias.
 * Head dims that are not multiples of 4 (18), odd head counts (3, 5), partial rotary, one key and many key chunks.
 */
import { describe, expect, it } from 'vitest';
import { gpu, randArray, relErr } from '../gpu';
import { AttentionDecodeOut, AttentionDecodeSplit } from '../../src/kernels/attention_decode_fused';
import { uploadLinear, releaseLinear } from '../../src/kernels/matmul';
import { roundToF16 } from '../../src/math/f16';
import { attentionDecodeRef, decodeMatvecRef } from '../../src/reference/decode';

interface Case { H: number; hd: number; rot: number; pos: number; maxLen: number; dtype: 'f32' | 'f16'; bias: boolean }

const CASES: Case[] = [
  { H: 4, hd: 16, rot: 4, pos: 0, maxLen: 8, dtype: 'f32', bias: true },
  { H: 3, hd: 18, rot: 4, pos: 37, maxLen: 40, dtype: 'f32', bias: false },
  { H: 5, hd: 64, rot: 16, pos: 130, maxLen: 256, dtype: 'f16', bias: true },
  { H: 12, hd: 64, rot: 16, pos: 4000, maxLen: 4096, dtype: 'f32', bias: true },
  { H: 2, hd: 8, rot: 4, pos: 400, maxLen: 512, dtype: 'f32', bias: true }, // 7 key chunks: merge batches of 4 plus a tail
];

describe('fused decode attention (rotary + KV append + split-K, then merge + dense + residual)', () => {
  it.each(CASES.map((c) => [`H=${c.H} hd=${c.hd} rot=${c.rot} pos=${c.pos} ${c.dtype}`, c] as const))('%s', async (_, c) => {
    const ctx = await gpu('gpu');
    const { H, hd, rot, pos, maxLen } = c;
    const d = H * hd;
    const qkv = randArray(3 * d, pos + 1, -1.5, 1.5);
    const kc = randArray(H * maxLen * hd, 2, -1, 1), vc = randArray(H * maxLen * hd, 3, -1, 1);
    for (let h = 0; h < H; h++) for (let i = 0; i < hd; i++) { kc[(h * maxLen + pos) * hd + i] = NaN; vc[(h * maxLen + pos) * hd + i] = NaN; }
    const W = randArray(d * d, 4, -0.3, 0.3), bias = randArray(d, 5), x0 = randArray(d, 6);
    const split = new AttentionDecodeSplit(ctx, { H, hd, rot, base: 10000 });
    const out = new AttentionDecodeOut(ctx, { H, hd, rot, base: 10000, dtype: c.dtype, bias: c.bias, biasOff: 3 });
    const lw = uploadLinear(ctx, W, d, d, { dtype: c.dtype });
    const bufs = {
      qkv: ctx.upload(qkv), kCache: ctx.upload(kc), vCache: ctx.upload(vc), part: ctx.buffer(split.partFloats * 4),
      state: ctx.upload(new Uint32Array([pos, 0, maxLen, 0])), pack: ctx.upload(Float32Array.from([0, 0, 0, ...bias])), x: ctx.upload(x0),
    };
    ctx.run((pass) => {
      split.encode(pass, bufs, pos);
      out.encode(pass, { ...bufs, w: lw.blocks[0].buffer });
    });
    const refK = kc.slice(), refV = vc.slice();
    const att = attentionDecodeRef({ qkv, kCache: refK, vCache: refV, H, hd, rot, base: 10000, pos, maxLen });
    const ref = decodeMatvecRef({ x: att, w: c.dtype === 'f16' ? roundToF16(W) : W, K: d, N: d, bias: c.bias ? bias : null, add: x0 });
    expect(relErr(await ctx.readF32(bufs.x, d), ref)).toBeLessThan(2e-5);
    const gk = await ctx.readF32(bufs.kCache, H * maxLen * hd), gv = await ctx.readF32(bufs.vCache, H * maxLen * hd);
    expect(relErr(gk, refK), 'k cache').toBeLessThan(1e-6);
    expect(relErr(gv, refV), 'v cache').toBeLessThan(1e-7);
    const st = await ctx.readU32(bufs.state, 4);
    expect(Array.from(st)).toEqual([pos, split.splitsFor(pos), maxLen, 0]);
    releaseLinear(ctx, lw);
    for (const b of Object.values(bufs)) ctx.pool.release(b);
  });

  it('plans more key chunks as the context grows, up to a cap', async () => {
    const ctx = await gpu('gpu');
    const s = new AttentionDecodeSplit(ctx, { H: 12, hd: 64, rot: 16, base: 10000 });
    expect(s.splitsFor(0)).toBe(1);
    expect(s.splitsFor(63)).toBe(1);
    expect(s.splitsFor(64)).toBe(2);
    expect(s.splitsFor(100000)).toBe(s.maxSplits);
    expect(s.maxSplits).toBe(24);
    expect(() => new AttentionDecodeSplit(ctx, { H: 2, hd: 8, rot: 3, base: 10000 })).toThrow(/even/);
  });
});
