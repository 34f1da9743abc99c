/**
 * The tiled matmul on shapes that are not multiples of its vector widths (K % 4 ≠ 0 for f32, K % 8 ≠ 0 for packed
 * f16, X views with offsets / row strides not multiples of 4), which checkpoints transformers accepts produce:
 * dt_proj with dt_rank 5 reading a column slice of x_proj's output, MLP widths like 150 or 180, hidden size 50.
 * Every case runs against the CPU oracle; which load path (vec4 or per element) a case takes is asserted too, so
 * both paths are covered and the aligned shapes keep the vec4 loads.
 */
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/context';
import { roundToF16 } from '../../src/math/f16';
import { MatmulKernel, releaseLinear, uploadLinear, type WeightDType } from '../../src/kernels/matmul';
import { LinearKernel } from '../../src/kernels/matvec';
import { linearRef } from '../../src/reference/matmul';
import { gpu, poisoned, randArray, relErr } from '../gpu';

const TOL = 1e-5;

interface Case {
  M: number; K: number; N: number; dtype?: WeightDType; bias?: boolean; blockRows?: number;
  /** X read from a wider buffer: element (m, k) at xOff + m · xStride + k */
  xOff?: number; xStride?: number;
  epilogue?: 'residual' | 'accumulate';
}

/** Runs one case; returns [gpu result, oracle, load path]. */
async function run(ctx: GpuContext, c: Case, seed: number): Promise<[Float32Array, Float32Array, { xVec4: boolean; wVec: boolean }]> {
  const { M, K, N } = c;
  const xOff = c.xOff ?? 0, xStride = c.xStride ?? K;
  const big = randArray(xOff + (M - 1) * xStride + K, seed);
  const x = new Float32Array(M * K);
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) x[m * K + k] = big[xOff + m * xStride + k];
  const w = randArray(N * K, seed + 1, -0.5, 0.5);
  const bias = c.bias ? randArray(N, seed + 2) : null;
  const lw = uploadLinear(ctx, w, N, K, { dtype: c.dtype, bias, blockRows: c.blockRows });
  const xb = ctx.upload(big);
  const before = randArray(M * N, seed + 3);
  const yb = c.epilogue === 'accumulate' ? ctx.upload(before) : poisoned(ctx, M * N);
  const rb = c.epilogue === 'residual' ? ctx.upload(before) : null;
  const k = new MatmulKernel(ctx);
  const xv = { buffer: xb, offset: xOff, rowStride: xStride };
  ctx.run((pass) => k.encode(pass, xv, lw, yb, M, { accumulate: c.epilogue === 'accumulate', residual: rb ?? undefined }));
  const out = await ctx.readF32(yb, M * N);
  const ref = linearRef(x, c.dtype === 'f16' ? roundToF16(w) : w, M, K, N, bias);
  if (c.epilogue) for (let i = 0; i < ref.length; i++) ref[i] += before[i];
  releaseLinear(ctx, lw);
  for (const b of [xb, yb, rb]) ctx.pool.release(b);
  return [out, ref, MatmulKernel.loads(lw, { ...xv })];
}

// Both plans: the GPU tilings (what an NVIDIA / AMD / Apple GPU runs) and the CPU ones (SwiftShader: GpuContext.cpuTiling).
for (const tiling of ['gpu', 'cpu'] as const) {
  describe(`matmul with K tails and unaligned X views, ${tiling} plans`, () => {
    it('f32: any K (1 .. 181), per-element loads, against the oracle', async () => {
      const ctx = await gpu(tiling);
      let seed = 1;
      for (const K of [1, 3, 5, 13, 50, 150, 181]) {
        for (const [M, N] of [[7, 5], [70, 67], [1, 33]]) {
          const c: Case = { M, K, N, bias: K % 2 === 1 };
          const [out, ref, loads] = await run(ctx, c, seed++);
          expect(relErr(out, ref), JSON.stringify(c)).toBeLessThan(TOL);
          expect(loads, JSON.stringify(c)).toEqual({ xVec4: false, wVec: false });
        }
      }
    });

    it('packed f16: K % 8 ≠ 0 (5, 12, 50, 180), odd row blocks, against the oracle on the f16-rounded weights', async () => {
      const ctx = await gpu(tiling);
      let seed = 100;
      for (const [K, blockRows] of [[5, 7], [12, undefined], [50, 9], [180, undefined]] as const) {
        const c: Case = { M: 37, K, N: 45, dtype: 'f16', bias: true, blockRows };
        const [out, ref, loads] = await run(ctx, c, seed++);
        expect(relErr(out, ref), JSON.stringify(c)).toBeLessThan(TOL);
        // K = 12 keeps vec4 X loads with per-element W loads; the others are per element on both sides
        expect(loads, JSON.stringify(c)).toEqual({ xVec4: K % 4 === 0, wVec: false });
      }
    });

    it("dt_proj's layout: K = dt_rank = 5 read from x_proj's (l, 5 + 2·16) output, and other unaligned views", async () => {
      const ctx = await gpu(tiling);
      const cases: Case[] = [
        { M: 65, K: 5, N: 160, xOff: 0, xStride: 37 },                 // colSlice(dbc, 0, r), Mamba d = 80
        { M: 65, K: 3, N: 100, xOff: 0, xStride: 13, bias: true },     // d = 50, r = 3, n = 5
        { M: 20, K: 48, N: 50, xOff: 1, xStride: 49 },                 // aligned K, unaligned view: vec4 W only
        { M: 20, K: 48, N: 50, xOff: 2, xStride: 52, dtype: 'f16' },
        { M: 9, K: 7, N: 70, xOff: 3, xStride: 11, epilogue: 'residual' },
        { M: 9, K: 7, N: 70, xOff: 3, xStride: 11, epilogue: 'accumulate', dtype: 'f16', blockRows: 16 },
      ];
      let seed = 200;
      for (const c of cases) {
        const [out, ref, loads] = await run(ctx, c, seed++);
        expect(relErr(out, ref), JSON.stringify(c)).toBeLessThan(TOL);
        expect(loads.xVec4, JSON.stringify(c)).toBe(false);
        expect(loads.wVec, JSON.stringify(c)).toBe(c.dtype === 'f16' ? c.K % 8 === 0 : c.K % 4 === 0);
      }
    });

    it('aligned shapes keep the vec4 path (same results as before)', async () => {
      const ctx = await gpu(tiling);
      let seed = 300;
      for (const c of [
        { M: 131, K: 48, N: 50, bias: true },
        { M: 7, K: 768, N: 99, dtype: 'f16' },
        { M: 13, K: 48, N: 37, xOff: 8, xStride: 80 },
      ] as Case[]) {
        const [out, ref, loads] = await run(ctx, c, seed++);
        expect(relErr(out, ref), JSON.stringify(c)).toBeLessThan(TOL);
        expect(loads, JSON.stringify(c)).toEqual({ xVec4: true, wVec: true });
      }
    });

    it('LinearKernel sends M > 1 with K tails to the matmul', async () => {
      const ctx = await gpu(tiling);
      const M = 11, K = 5, N = 40;
      const x = randArray(M * K, 400), w = randArray(N * K, 401);
      const lw = uploadLinear(ctx, w, N, K);
      const xb = ctx.upload(x), yb = poisoned(ctx, M * N);
      const lin = new LinearKernel(ctx);
      ctx.run((pass) => lin.encode(pass, xb, lw, yb, M));
      expect(relErr(await ctx.readF32(yb, M * N), linearRef(x, w, M, K, N))).toBeLessThan(TOL);
      releaseLinear(ctx, lw);
      ctx.pool.release(xb);
      ctx.pool.release(yb);
    });

    it('refuses a buffer too short for whole-vec4 reads with a clear error', async () => {
      const ctx = await gpu(tiling);
      const K = 5, N = 3, M = 2;
      const lw = uploadLinear(ctx, randArray(N * K, 1), N, K);
      // 40 bytes = exactly M·K floats, but the per-element path reads whole vec4s: 48 bytes needed
      const xb = ctx.device.createBuffer({ size: M * K * 4, usage: 0x80 | 0x08 /* STORAGE | COPY_DST */ });
      const yb = ctx.buffer(M * N * 4);
      const k = new MatmulKernel(ctx);
      ctx.run((pass) => expect(() => k.encode(pass, xb, lw, yb, M)).toThrow(/needs 48 bytes .* has 40/));
      xb.destroy();
      releaseLinear(ctx, lw);
      ctx.pool.release(yb);
    });
  });
}
