import { describe, expect, it } from 'vitest';
import { gpu, randArray, relErr, poisoned } from '../gpu';
import { RMSNormKernel, LayerNormKernel } from '../../src/kernels/norm';
import { rmsnormRef, layernormRef, addNormRef } from '../../src/reference/norm';

const TOL = 1e-5;

// Both plans: the GPU tilings (what an NVIDIA / AMD / Apple GPU runs) and the CPU ones (SwiftShader: GpuContext.cpuTiling).
for (const tiling of ['gpu', 'cpu'] as const) {
  describe(`RMSNorm / LayerNorm, ${tiling} plans`, () => {
    it('rmsnorm matches the oracle (d not a multiple of the workgroup, L odd)', async () => {
      const ctx = await gpu(tiling);
      for (const [L, d] of [[1, 48], [7, 768], [131, 100], [3, 1000]]) {
        const x = randArray(L * d, L + d, -3, 3);
        const w = randArray(d, d, 0.5, 1.5);
        const k = new RMSNormKernel(ctx, d, 1e-5);
        const xb = ctx.upload(x), wb = ctx.upload(w), yb = poisoned(ctx, L * d);
        ctx.run((pass) => k.encode(pass, xb, wb, yb, L));
        expect(relErr(await ctx.readF32(yb, L * d), rmsnormRef(x, w, L, d, 1e-5)), `L=${L} d=${d}`).toBeLessThan(TOL);
      }
    });

    it('layernorm matches the oracle, including rows with a large mean', async () => {
      const ctx = await gpu(tiling);
      for (const [L, d] of [[1, 48], [7, 768], [131, 100]]) {
        const x = randArray(L * d, L + d, -3, 3).map((v, i) => v + (i % d === 0 ? 0 : 20));
        const w = randArray(d, d, 0.5, 1.5);
        const b = randArray(d, d + 1);
        const k = new LayerNormKernel(ctx, d, 1e-5, { workgroupSize: 64 });
        const xb = ctx.upload(x), wb = ctx.upload(w), bb = ctx.upload(b), yb = poisoned(ctx, L * d);
        ctx.run((pass) => k.encode(pass, xb, wb, bb, yb, L));
        expect(relErr(await ctx.readF32(yb, L * d), layernormRef(x, w, b, L, d, 1e-5)), `L=${L} d=${d}`).toBeLessThan(TOL);
      }
    });

    it('fused residual add + norm updates the residual and normalises it (strided views)', async () => {
      const ctx = await gpu(tiling);
      const L = 9, d = 100, stride = 130, off = 10;
      const x = randArray(L * d, 1);
      const r0 = randArray(L * stride + off, 2);
      const r = new Float32Array(L * d);
      for (let t = 0; t < L; t++) for (let i = 0; i < d; i++) r[t * d + i] = r0[off + t * stride + i];
      const w = randArray(d, 3, 0.5, 1.5), b = randArray(d, 4);
      for (const kind of ['rms', 'ln'] as const) {
        const xb = ctx.upload(x), rb = ctx.upload(r0), wb = ctx.upload(w), bb = ctx.upload(b), yb = poisoned(ctx, L * d);
        const rv = { buffer: rb, offset: off, rowStride: stride };
        const [rNew, yRef] = addNormRef(x, r, (v) => (kind === 'rms' ? rmsnormRef(v, w, L, d, 1e-6) : layernormRef(v, w, b, L, d, 1e-6)));
        if (kind === 'rms') {
          const k = new RMSNormKernel(ctx, d, 1e-6);
          ctx.run((pass) => k.encodeAdd(pass, xb, rv, wb, yb, L));
        } else {
          const k = new LayerNormKernel(ctx, d, 1e-6);
          ctx.run((pass) => k.encodeAdd(pass, xb, rv, wb, bb, yb, L));
        }
        expect(relErr(await ctx.readF32(yb, L * d), yRef), kind).toBeLessThan(TOL);
        const rOut = await ctx.readF32(rb, L * stride + off);
        const rGot = new Float32Array(L * d);
        for (let t = 0; t < L; t++) for (let i = 0; i < d; i++) rGot[t * d + i] = rOut[off + t * stride + i];
        expect(relErr(rGot, rNew)).toBeLessThan(1e-7);
        expect(rOut[off + d]).toBe(r0[off + d]); // gap columns untouched
      }
    });

    it('rejects aliasing and short buffers', async () => {
      const ctx = await gpu(tiling);
      const k = new RMSNormKernel(ctx, 64);
      const a = ctx.buffer(64 * 4 * 4), w = ctx.buffer(64 * 4);
      ctx.run((pass) => {
        expect(() => k.encode(pass, a, w, a, 4)).toThrow(/different buffer/);
        expect(() => k.encode(pass, a, w, ctx.buffer(64 * 4), 4)).toThrow(/buffer holds/);
      });
    });
  });
}
