import { describe, expect, it } from 'vitest';
import { gpu, randArray, poisoned } from '../gpu';
import { EmbeddingKernel } from '../../src/kernels/embedding';
import { uploadLinear, releaseLinear } from '../../src/kernels/matmul';
import { embeddingRef } from '../../src/reference/embedding';
import { roundToF16, f32ToF16Bits, f16BitsToF32, bf16BitsToF32, f32ToF16Packed, f16PackedToF32 } from '../../src/math/f16';

describe('f16 helpers', () => {
  it('round to nearest even, bit-exact, incl. subnormals, overflow, inf and NaN', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00], [1e9, 0x7c00], [-Infinity, 0xfc00],
      [2 ** -24, 0x0001], [2 ** -25, 0x0000], [3 * 2 ** -26, 0x0001], [2 ** -25 * 1.0001, 0x0001], [2 ** -14, 0x0400],
      [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -11 + 2 ** -20, 0x3c01], [0.1, 0x2e66], [-0, 0x8000],
      [2 ** -14 - 2 ** -25, 0x0400], [1.5 * 2 ** -24, 0x0002], [2.5 * 2 ** -24, 0x0002],
    ];
    for (const [x, h] of cases) expect(f32ToF16Bits(x).toString(16), `${x}`).toBe(h.toString(16));
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToF16Bits(NaN) & 0x3ff).not.toBe(0);
    expect(Number.isNaN(f16BitsToF32(0x7e00))).toBe(true);
    // every finite f16 survives a round trip
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
    }
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(bf16BitsToF32(0xc0490fdb >>> 16)).toBe(-3.140625);
    const v = new Float32Array([1, -2, 0.5, 3]);
    expect(Array.from(f32ToF16Packed(v))).toEqual([0xc0003c00, 0x42003800]);
    expect(Array.from(f16PackedToF32(f32ToF16Packed([1, 2, 3]), 3))).toEqual([1, 2, 3]);
  });
});

describe('embedding gather', () => {
  it('gathers rows from f32 and f16 tables split into blocks; out-of-range ids give zeros', async () => {
    const ctx = await gpu('gpu');
    const k = new EmbeddingKernel(ctx);
    for (const [dtype, d] of [['f32', 48], ['f16', 37], ['f16', 300]] as const) {
      const vocab = 1000;
      const E = randArray(vocab * d, d);
      const table = uploadLinear(ctx, E, vocab, d, { dtype, blockRows: 333 });
      const history = new Uint32Array([7, 7, 0, 999, 332, 333, 666, 1000, 5000, 0xffffffff, 12, 998]);
      const idsb = ctx.upload(history);
      const off = 2, L = history.length - off;
      const ob = poisoned(ctx, L * d);
      ctx.run((pass) => k.encode(pass, idsb, table, ob, L, off));
      const ref = embeddingRef(dtype === 'f16' ? roundToF16(E) : E, vocab, d, Array.from(history.subarray(off)));
      expect(Array.from(await ctx.readF32(ob, L * d))).toEqual(Array.from(ref));
      releaseLinear(ctx, table);
    }
  });

  it('writes into a strided view and validates known ids', async () => {
    const ctx = await gpu('gpu');
    const k = new EmbeddingKernel(ctx);
    const vocab = 50, d = 8, L = 3;
    const E = randArray(vocab * d, 3);
    const table = uploadLinear(ctx, E, vocab, d);
    const ids = [4, 49, 0];
    const idsb = ctx.upload(new Uint32Array(ids));
    const ob = poisoned(ctx, L * 12 + 2);
    ctx.run((pass) => k.encode(pass, idsb, table, { buffer: ob, offset: 2, rowStride: 12 }, L, 0, ids));
    const out = await ctx.readF32(ob, L * 12 + 2);
    const ref = embeddingRef(E, vocab, d, ids);
    for (let t = 0; t < L; t++) expect(Array.from(out.subarray(2 + t * 12, 2 + t * 12 + d))).toEqual(Array.from(ref.subarray(t * d, (t + 1) * d)));
    ctx.run((pass) => expect(() => k.encode(pass, idsb, table, ob, L, 0, [4, 50, 0])).toThrow(/outside \[0, 50\)/));
  });
});
