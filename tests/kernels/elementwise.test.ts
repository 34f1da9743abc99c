import { describe, expect, it } from 'vitest';
import { gpu, randArray, relErr, maxRelErr, poisoned } from '../gpu';
import { ElementwiseKernel, type UnaryOp } from '../../src/kernels/elementwise';
import { erf, erfc, gelu, silu, softplus, mapRef, addRef, gateRef } from '../../src/reference/elementwise';

describe('float64 erf oracle', () => {
  it('matches tabulated values', () => {
    const table: [number, number][] = [[0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [-1.5, -0.9661051464753108]];
    for (const [x, v] of table) expect(Math.abs(erf(x) - v)).toBeLessThan(1e-15);
    const tail: [number, number][] = [[3, 2.209049699858544e-5], [5, 1.5374597944280349e-12], [10, 2.088487583762545e-45], [2.9, 4.109787809945886e-5], [2, 4.677734981047266e-3], [1.99, 4.888586800383003e-3]];
    for (const [x, v] of tail) expect(Math.abs(erfc(x) - v) / v).toBeLessThan(1e-12);
  });
});

describe('elementwise kernels', () => {
  const fns: Record<UnaryOp, (v: number) => number> = { silu, softplus, gelu };

  it('silu, softplus and exact GELU match float64 references (elementwise relative error, tails included)', async () => {
    const ctx = await gpu();
    const n = 4001;
    const x = randArray(n, 1, -8, 8);
    x.set([0, -0, 1e-8, -1e-8, 20, 20.5, -20, 30, -30, 3, -3, -5.5, 0.25, 1e-3], 0);
    const k = new ElementwiseKernel(ctx);
    const xb = ctx.upload(x);
    for (const op of ['silu', 'softplus', 'gelu'] as UnaryOp[]) {
      const yb = poisoned(ctx, n);
      ctx.run((pass) => k.unary(pass, op, xb, yb, 1, n));
      const y = await ctx.readF32(yb, n);
      const ref = mapRef(x, fns[op]);
      expect(relErr(y, ref), op).toBeLessThan(1e-6);
      // elementwise relative accuracy on |x| ≤ 8 (GELU's negative tail is ~1e-15 there)
      const sel = (a: ArrayLike<number>) => Array.from(a).filter((_, i) => Math.abs(x[i]) <= 8);
      expect(maxRelErr(sel(y), sel(ref), 1e-30), op).toBeLessThan(2e-5);
    }
  });

  it('in-place unary on a strided view leaves the other columns alone', async () => {
    const ctx = await gpu();
    const rows = 5, cols = 7, stride = 10, off = 2;
    const buf = randArray(rows * stride + off, 2, -4, 4);
    const b = ctx.upload(buf);
    const k = new ElementwiseKernel(ctx);
    ctx.run((pass) => k.unaryInPlace(pass, 'gelu', { buffer: b, offset: off, rowStride: stride }, rows, cols));
    const out = await ctx.readF32(b, buf.length);
    for (let i = 0; i < buf.length; i++) {
      const r = Math.floor((i - off) / stride), c = (i - off) % stride;
      const inside = i >= off && r < rows && c < cols;
      expect(Math.abs(out[i] - (inside ? gelu(buf[i]) : buf[i]))).toBeLessThan(1e-6);
    }
  });

  it('residual adds: out = a + b + c, out += a, out += a + b', async () => {
    const ctx = await gpu();
    const rows = 13, cols = 100, n = rows * cols;
    const [a, b, c] = [randArray(n, 3), randArray(n, 4), randArray(n, 5)];
    const k = new ElementwiseKernel(ctx);
    const ab = ctx.upload(a), bb = ctx.upload(b), cb = ctx.upload(c);
    const ob = poisoned(ctx, n);
    ctx.run((pass) => k.add(pass, [ab, bb, cb], ob, rows, cols));
    expect(relErr(await ctx.readF32(ob, n), addRef(a, b, c))).toBeLessThan(1e-7);
    const hb = ctx.upload(c);
    ctx.run((pass) => k.addInPlace(pass, hb, [ab], rows, cols));
    expect(relErr(await ctx.readF32(hb, n), addRef(c, a))).toBeLessThan(1e-7);
    ctx.run((pass) => k.addInPlace(pass, hb, [ab, bb], rows, cols));
    expect(relErr(await ctx.readF32(hb, n), addRef(c, a, a, b))).toBeLessThan(1e-7);
    ctx.run((pass) => expect(() => k.add(pass, [ab, ob], ob, rows, cols)).toThrow(/in-place/));
  });

  it('gate y·SiLU(z) with z the right half of an [L, 2D] buffer, and in place', async () => {
    const ctx = await gpu();
    const L = 9, D = 48;
    const xz = randArray(L * 2 * D, 6, -4, 4);
    const y = randArray(L * D, 7);
    const z = new Float32Array(L * D);
    for (let t = 0; t < L; t++) for (let d = 0; d < D; d++) z[t * D + d] = xz[t * 2 * D + D + d];
    const k = new ElementwiseKernel(ctx);
    const xzb = ctx.upload(xz), yb = ctx.upload(y), ob = poisoned(ctx, L * D);
    const zv = { buffer: xzb, offset: D, rowStride: 2 * D };
    ctx.run((pass) => k.gate(pass, yb, zv, ob, L, D));
    expect(relErr(await ctx.readF32(ob, L * D), gateRef(y, z))).toBeLessThan(1e-6);
    ctx.run((pass) => k.gateInPlace(pass, yb, zv, L, D));
    expect(relErr(await ctx.readF32(yb, L * D), gateRef(y, z))).toBeLessThan(1e-6);
  });
});
