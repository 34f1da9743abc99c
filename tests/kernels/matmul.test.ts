import { describe, expect, it } from 'vitest';
import { gpu, randArray, relErr, poisoned } from '../gpu';
import { MatmulKernel, uploadLinear, releaseLinear, type LinearWeights } from '../../src/kernels/matmul';
import { MatvecKernel, LinearKernel } from '../../src/kernels/matvec';
import { linearRef } from '../../src/reference/matmul';
import { roundToF16 } from '../../src/math/f16';
import type { GpuContext } from '../../src/gpu/context';

const TOL = 1e-4;

interface Case { M: number; K: number; N: number; dtype?: 'f32' | 'f16'; bias?: boolean; blockRows?: number; seed?: number }

/** Runs matmul (or matvec for M = 1 with `useMatvec`) on contiguous buffers and returns [gpu, ref]. */
async function runLinear(ctx: GpuContext, c: Case, useMatvec = false): Promise<[Float32Array, Float32Array]> {
  const { M, K, N } = c;
  const seed = c.seed ?? M * 7919 + K * 31 + N;
  const x = randArray(M * K, seed);
  const w = randArray(N * K, seed + 1, -0.5, 0.5);
  const b = c.bias ? randArray(N, seed + 2) : null;
  const lw = uploadLinear(ctx, w, N, K, { dtype: c.dtype, bias: b, blockRows: c.blockRows });
  const xb = ctx.upload(x);
  const yb = poisoned(ctx, M * N);
  if (useMatvec) {
    const k = new MatvecKernel(ctx);
    ctx.run((pass) => k.encode(pass, xb, lw, yb));
  } else {
    const k = new MatmulKernel(ctx);
    ctx.run((pass) => k.encode(pass, xb, lw, yb, M));
  }
  const out = await ctx.readF32(yb, M * N);
  const ref = linearRef(x, c.dtype === 'f16' ? roundToF16(w) : w, M, K, N, b);
  releaseLinear(ctx, lw);
  ctx.pool.release(xb);
  ctx.pool.release(yb);
  return [out, ref];
}

// Both plans: the GPU tilings (what an NVIDIA / AMD / Apple GPU runs) and the CPU ones (SwiftShader: GpuContext.cpuTiling).
for (const tiling of ['gpu', 'cpu'] as const) {
  describe(`matmul (Y = X·Wᵀ + b), ${tiling} plans`, () => {
    it('matches the oracle on shapes that are not tile multiples (f32)', async () => {
      const ctx = await gpu(tiling);
      const cases: Case[] = [];
      for (const M of [1, 7, 131]) for (const K of [48, 100, 768]) cases.push({ M, K, N: 50, bias: K === 100 });
      cases.push({ M: 7, K: 100, N: 5 }, { M: 131, K: 48, N: 4099, bias: true }, { M: 3, K: 768, N: 4099 });
      for (const c of cases) {
        const [out, ref] = await runLinear(ctx, c);
        expect(relErr(out, ref), JSON.stringify(c)).toBeLessThan(TOL);
      }
    });

    it('packed f16 weights match an oracle on the same f16-rounded weights', async () => {
      const ctx = await gpu(tiling);
      for (const c of [
        { M: 7, K: 48, N: 50, dtype: 'f16', bias: true },
        { M: 131, K: 768, N: 5, dtype: 'f16' },
        { M: 1, K: 768, N: 4099, dtype: 'f16' },
      ] as Case[]) {
        const [out, ref] = await runLinear(ctx, c);
        expect(relErr(out, ref), JSON.stringify(c)).toBeLessThan(TOL);
      }
    });

    it('weights split into row blocks (f32 and f16, with bias) give the same result', async () => {
      const ctx = await gpu(tiling);
      for (const dtype of ['f32', 'f16'] as const) {
        const [out, ref] = await runLinear(ctx, { M: 9, K: 48, N: 50, dtype, bias: true, blockRows: 17 });
        expect(relErr(out, ref)).toBeLessThan(TOL);
      }
    });

    it('strided X view, Y written into a column slice, residual and accumulate epilogues', async () => {
      const ctx = await gpu(tiling);
      const M = 13, K = 48, N = 37;
      const xStride = 80, xOff = 8; // like dt_proj reading cols [8, 56) of a [M, 80] buffer
      const big = randArray(M * xStride + xOff, 5);
      const x = new Float32Array(M * K);
      for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) x[m * K + k] = big[xOff + m * xStride + k];
      const w = randArray(N * K, 6);
      const bias = randArray(N, 7);
      const lw = uploadLinear(ctx, w, N, K, { bias, blockRows: 16 });
      const ref = linearRef(x, w, M, K, N, bias);
      const xb = ctx.upload(big);
      const yStride = 64, yOff = 20; // Y in cols [20, 57) of a [M, 64] buffer
      const yInit = randArray(M * yStride, 8);
      const yb = ctx.upload(yInit);
      const k = new MatmulKernel(ctx);
      const xv = { buffer: xb, offset: xOff, rowStride: xStride };
      ctx.run((pass) => k.encode(pass, xv, lw, { buffer: yb, offset: yOff, rowStride: yStride }, M));
      let y = await ctx.readF32(yb, M * yStride);
      for (let m = 0; m < M; m++) {
        for (let c = 0; c < yStride; c++) {
          const inSlice = c >= yOff && c < yOff + N;
          const want = inSlice ? ref[m * N + c - yOff] : yInit[m * yStride + c];
          expect(Math.abs(y[m * yStride + c] - want)).toBeLessThan(1e-4 * (1 + Math.abs(want)));
        }
      }
      // accumulate: Y += X·Wᵀ + b (no bias this time)
      ctx.run((pass) => k.encode(pass, xv, lw, { buffer: yb, offset: yOff, rowStride: yStride }, M, { accumulate: true, bias: false }));
      y = await ctx.readF32(yb, M * yStride);
      const refNoBias = linearRef(x, w, M, K, N);
      const got = new Float32Array(M * N), want = new Float32Array(M * N);
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
        got[m * N + n] = y[m * yStride + yOff + n];
        want[m * N + n] = ref[m * N + n] + refNoBias[m * N + n];
      }
      expect(relErr(got, want)).toBeLessThan(TOL);
      // residual: out = r + X·Wᵀ + b into a fresh buffer
      const r = randArray(M * N, 9);
      const rb = ctx.upload(r);
      const ob = poisoned(ctx, M * N);
      ctx.run((pass) => k.encode(pass, xv, lw, ob, M, { residual: rb }));
      const o = await ctx.readF32(ob, M * N);
      expect(relErr(o, ref.map((v, i) => v + r[i]))).toBeLessThan(TOL);
      releaseLinear(ctx, lw);
    });

    it('rejects bad arguments with clear errors', async () => {
      const ctx = await gpu(tiling);
      const k = new MatmulKernel(ctx);
      const lw16 = uploadLinear(ctx, randArray(5 * 100, 1), 5, 100, { dtype: 'f16' });
      const xb = ctx.buffer(4 * 100 * 4);
      const yb = ctx.buffer(4 * 5 * 4);
      ctx.run((pass) => {
        // K % 8 ≠ 0 (f16) and unaligned X offsets are supported (tests/kernels/matmul-tails.test.ts); bad sizes are not
        expect(() => k.encode(pass, xb, { ...lw16, rows: 6 }, yb, 4)).toThrow(/cover 5 rows, expected 6/);
        const lw: LinearWeights = { ...lw16, dtype: 'f32', cols: 100, blocks: [{ buffer: ctx.buffer(5 * 100 * 4), rows: 5 }] };
        expect(() => k.encode(pass, { buffer: xb, offset: 2 }, lw, yb, 4)).toThrow(/view needs 402 floats/);
        expect(() => k.encode(pass, xb, lw, yb, 5)).toThrow(/buffer holds/);
        expect(() => k.encode(pass, xb, lw, xb, 1)).toThrow(/different buffers/);
      });
    });
  });

  describe(`matvec (decode, M = 1), ${tiling} plans`, () => {
    it('matches the oracle for f32 and f16 weights on odd N', async () => {
      const ctx = await gpu(tiling);
      for (const K of [48, 100, 768]) for (const N of [5, 50, 4099]) {
        const [out, ref] = await runLinear(ctx, { M: 1, K, N, bias: N === 50 }, true);
        expect(relErr(out, ref), `f32 K=${K} N=${N}`).toBeLessThan(TOL);
      }
      for (const K of [48, 768]) for (const N of [5, 4099]) {
        const [out, ref] = await runLinear(ctx, { M: 1, K, N, dtype: 'f16', bias: true }, true);
        expect(relErr(out, ref), `f16 K=${K} N=${N}`).toBeLessThan(TOL);
      }
    });

    // explicit rows per workgroup: the same tiling under either plan
    if (tiling === 'gpu') {
      it('split blocks, offsets, residual and accumulate', async () => {
        const ctx = await gpu(tiling);
        const K = 64, N = 45;
        const w = randArray(N * K, 3);
        const bias = randArray(N, 4);
        const xs = randArray(K + 12, 5);
        const x = xs.subarray(12);
        for (const [dtype, rowsPerThread] of [['f32', 3], ['f16', 1], ['f16', 4]] as const) {
          const lw = uploadLinear(ctx, w, N, K, { dtype, bias, blockRows: 8 });
          const ref = linearRef(x, dtype === 'f16' ? roundToF16(w) : w, 1, K, N, bias);
          const xb = ctx.upload(xs);
          const y0 = randArray(N + 3, 6);
          const yb = ctx.upload(y0);
          const k = new MatvecKernel(ctx, { rowsPerWorkgroup: 4, rowsPerThread });
          ctx.run((pass) => k.encode(pass, { buffer: xb, offset: 12 }, lw, { buffer: yb, offset: 3 }, { accumulate: true }));
          const y = await ctx.readF32(yb, N + 3);
          expect(Array.from(y.subarray(0, 3))).toEqual(Array.from(y0.subarray(0, 3)));
          expect(relErr(y.subarray(3), ref.map((v, i) => v + y0[3 + i]))).toBeLessThan(TOL);
          const rb = ctx.upload(y0);
          const ob = poisoned(ctx, N);
          ctx.run((pass) => k.encode(pass, { buffer: xb, offset: 12 }, lw, ob, { residual: { buffer: rb, offset: 3 } }));
          expect(relErr(await ctx.readF32(ob, N), ref.map((v, i) => v + y0[3 + i]))).toBeLessThan(TOL);
          releaseLinear(ctx, lw);
        }
      });
    }

    it('LM-head-sized N = 50280 (M = 1 via matvec, M = 3 via matmul, split into 3 blocks)', async () => {
      const ctx = await gpu(tiling);
      const K = 64, N = 50280;
      const w = randArray(N * K, 11, -0.5, 0.5);
      const lw = uploadLinear(ctx, w, N, K, { dtype: 'f16', blockRows: 20000 });
      const wr = roundToF16(w);
      const lin = new LinearKernel(ctx);
      for (const M of [1, 3]) {
        const x = randArray(M * K, 12 + M);
        const xb = ctx.upload(x);
        const yb = poisoned(ctx, M * N);
        ctx.run((pass) => lin.encode(pass, xb, lw, yb, M));
        expect(relErr(await ctx.readF32(yb, M * N), linearRef(x, wr, M, K, N))).toBeLessThan(TOL);
      }
      releaseLinear(ctx, lw);
    });
  });
}
