/**
 * The fused decode matvec (shaders/decode_matvec.wgsl) against its CPU oracle (src/reference/decode.ts) on shapes
 * that are not multiples of anything: K = 5, 80, 100, 1001 (f32 and packed f16, odd rows of f16 start mid-word),
 * RMSNorm / LayerNorm prologues, bias, GELU, residual and in-place add, two segments, argmax partials, row blocks.
 */
import { describe, expect, it } from 'vitest';
import { gpu, poisoned, randArray, relErr } from '../gpu';
import { DecodeMatvec, EPI_ADD, EPI_BIAS, EPI_GELU, EPI_RESIDUAL, type NormKind } from '../../src/kernels/decode_matvec';
import { uploadLinear, releaseLinear } from '../../src/kernels/matmul';
import { roundToF16 } from '../../src/math/f16';
import { decodeMatvecRef } from '../../src/reference/decode';
import type { GpuContext } from '../../src/gpu/context';

const TOL = 2e-5;

interface Case { K: number; N: number; dtype: 'f32' | 'f16'; norm?: NormKind; bias?: boolean; gelu?: boolean; add?: 'residual' | 'inplace'; lanes?: number; subgroups?: boolean }

async function runCase(ctx: GpuContext, c: Case, seed: number): Promise<number> {
  const { K, N, dtype } = c;
  const x = randArray(K + 3, seed, -2, 2).map((v, i) => (i >= 3 ? v + 0.5 : v)); // nonzero mean for LayerNorm
  const w = randArray(N * K, seed + 1, -0.5, 0.5);
  const g = randArray(K, seed + 2, 0.5, 1.5), nb = randArray(K, seed + 3, -0.3, 0.3), bias = randArray(N, seed + 4);
  const old = randArray(N, seed + 5);
  // pack: [pad 7 | g | nb | bias]
  const pack = new Float32Array(7 + 2 * K + N);
  pack.set(g, 7); pack.set(nb, 7 + K); pack.set(bias, 7 + 2 * K);
  const lw = uploadLinear(ctx, w, N, K, { dtype });
  const xb = ctx.upload(x), pb = ctx.upload(pack), rb = ctx.upload(new Float32Array([0, 0, ...old]));
  const yb = c.add === 'inplace' ? ctx.upload(new Float32Array([9, ...old])) : poisoned(ctx, N + 1);
  const k = new DecodeMatvec(ctx, { K, N, dtype, norm: c.norm, eps: 1e-5, lanes: c.lanes, subgroups: c.subgroups });
  const epi = (c.bias ? EPI_BIAS : 0) | (c.gelu ? EPI_GELU : 0) | (c.add === 'residual' ? EPI_RESIDUAL : c.add === 'inplace' ? EPI_ADD : 0);
  ctx.run((pass) => k.encode(pass, {
    x: xb, xOff: 3, seg1: { w: lw.blocks[0].buffer, yOff: 1, epi, biasOff: 7 + 2 * K, gOff: 7, bOff: 7 + K }, pack: pb, res: rb, resOff: 2, y: yb,
  }));
  const got = await ctx.readF32(yb, N + 1);
  const ref = decodeMatvecRef({
    x: x.subarray(3), w: dtype === 'f16' ? roundToF16(w) : w, K, N, norm: c.norm, g, b: nb, eps: 1e-5,
    bias: c.bias ? bias : null, gelu: c.gelu, add: c.add ? old : null,
  });
  if (c.add === 'inplace') expect(got[0]).toBe(9);
  releaseLinear(ctx, lw);
  for (const b of [xb, pb, rb, yb]) ctx.pool.release(b);
  return relErr(got.subarray(1), ref);
}

// Both plans: the GPU tilings (what an NVIDIA / AMD / Apple GPU runs) and the CPU ones (SwiftShader: GpuContext.cpuTiling).
for (const tiling of ['gpu', 'cpu'] as const) {
  describe(`decode matvec (fused norm + matvec + epilogue), ${tiling} plans`, () => {
    it('any K and N, f32 and f16, every prologue and epilogue', async () => {
      const ctx = await gpu(tiling);
      const cases: Case[] = [];
      for (const dtype of ['f32', 'f16'] as const) {
        for (const [K, N] of [[5, 7], [80, 160], [100, 33], [1001, 65], [768, 300]]) {
          cases.push({ K, N, dtype });
          cases.push({ K, N, dtype, norm: 'rms', bias: true, add: 'inplace' });
          cases.push({ K, N, dtype, norm: 'ln', bias: true, gelu: true });
        }
        cases.push({ K: 64, N: 50, dtype, norm: 'ln', add: 'residual', lanes: 8 });
        cases.push({ K: 96, N: 9, dtype, norm: 'rms', lanes: 256 });
      }
      let seed = 1;
      for (const c of cases) expect(await runCase(ctx, c, seed += 10), JSON.stringify(c)).toBeLessThan(TOL);
    });

    // the row sums of the GPU tilings (explicit lanes); the CPU plan has one lane per row, nothing to sum
    if (tiling === 'gpu') {
      it('row sums through workgroup memory and through subgroups (rows narrower and wider than a subgroup)', async () => {
        const ctx = await gpu(tiling);
        const cases: Case[] = [
          { K: 64, N: 50, dtype: 'f32', norm: 'ln', add: 'residual', lanes: 8, subgroups: false },
          { K: 96, N: 9, dtype: 'f32', norm: 'rms', lanes: 256, subgroups: false },
          { K: 768, N: 300, dtype: 'f16', norm: 'ln', bias: true, gelu: true, subgroups: false },
          { K: 1001, N: 65, dtype: 'f32', norm: 'rms', bias: true, add: 'inplace', subgroups: false },
          { K: 100, N: 33, dtype: 'f32', bias: true, lanes: 2 },
          { K: 100, N: 33, dtype: 'f32', bias: true, lanes: 4 },
          { K: 200, N: 17, dtype: 'f16', norm: 'rms', lanes: 32 },
        ];
        // the default takes the subgroup sums wherever the adapter has subgroups (SwiftShader: size 4)
        expect(new DecodeMatvec(ctx, { K: 8, N: 4, dtype: 'f32' }).sg).toBe(ctx.has('subgroups') ? ctx.acquired.adapterInfo.subgroupMinSize : 0);
        expect(new DecodeMatvec(ctx, { K: 8, N: 4, dtype: 'f32', subgroups: false }).sg).toBe(0);
        let seed = 500;
        for (const c of cases) expect(await runCase(ctx, c, seed += 10), JSON.stringify(c)).toBeLessThan(TOL);
      });
    }

    it('two segments share x (QKV with LN₁ and dense_h_to_4h + GELU with LN₂ in one dispatch)', async () => {
      const ctx = await gpu(tiling);
      for (const [K, N1, N2, dtype] of [[48, 144, 200, 'f32'], [30, 90, 120, 'f16'], [40, 7, 3, 'f16']] as const) {
        const x = randArray(K, K, -2, 2);
        const w1 = randArray(N1 * K, 1, -0.5, 0.5), w2 = randArray(N2 * K, 2, -0.5, 0.5);
        const g1 = randArray(K, 3, 0.5, 1.5), b1 = randArray(K, 4), g2 = randArray(K, 5, 0.5, 1.5), b2 = randArray(K, 6);
        const bias1 = randArray(N1, 7), bias2 = randArray(N2, 8);
        const pack = Float32Array.from([...g1, ...b1, ...g2, ...b2, ...bias1, ...bias2]);
        const l1 = uploadLinear(ctx, w1, N1, K, { dtype }), l2 = uploadLinear(ctx, w2, N2, K, { dtype });
        const xb = ctx.upload(x), pb = ctx.upload(pack), yb = poisoned(ctx, N1 + N2 + 5);
        const k = new DecodeMatvec(ctx, { K, N: N1, N2, dtype, norm: 'ln', eps: 1e-5 });
        ctx.run((pass) => k.encode(pass, {
          x: xb, pack: pb, y: yb,
          seg1: { w: l1.blocks[0].buffer, yOff: 0, epi: EPI_BIAS, gOff: 0, bOff: K, biasOff: 4 * K },
          seg2: { w: l2.blocks[0].buffer, yOff: N1 + 5, epi: EPI_BIAS | EPI_GELU, gOff: 2 * K, bOff: 3 * K, biasOff: 4 * K + N1 },
        }));
        const got = await ctx.readF32(yb, N1 + N2 + 5);
        const r = (a: Float32Array) => (dtype === 'f16' ? roundToF16(a) : a);
        const ref1 = decodeMatvecRef({ x, w: r(w1), K, N: N1, norm: 'ln', g: g1, b: b1, bias: bias1 });
        const ref2 = decodeMatvecRef({ x, w: r(w2), K, N: N2, norm: 'ln', g: g2, b: b2, bias: bias2, gelu: true });
        expect(relErr(got.subarray(0, N1), ref1), `seg 1 K=${K}`).toBeLessThan(TOL);
        expect(relErr(got.subarray(N1 + 5), ref2), `seg 2 K=${K}`).toBeLessThan(TOL);
        releaseLinear(ctx, l1); releaseLinear(ctx, l2);
        for (const b of [xb, pb, yb]) ctx.pool.release(b);
      }
    });

    it.each([undefined, 3, 7])('LM head in row blocks with argmax partials (max, lowest index on ties, non-finite flag), rep %s', async (rep) => {
      const ctx = await gpu(tiling);
      const K = 24, N = 3001;
      const x = randArray(K, 1);
      const w = randArray(N * K, 2, -0.5, 0.5);
      for (let r = 0; r < K; r++) { w[1500 * K + r] = w[2700 * K + r] = x[r] * 0.5; } // two equal maxima
      const lw = uploadLinear(ctx, w, N, K, { dtype: 'f32', blockRows: 1000 });
      const kernels = lw.blocks.map((b) => new DecodeMatvec(ctx, { K, N: b.rows, dtype: 'f32', argmax: true, rep }));
      if (rep) expect(kernels[0].groups1).toBe(Math.ceil(Math.ceil(1000 / kernels[0].rows) / rep));
      const parts = kernels.reduce((s, k) => s + k.partialFloats, 0);
      const xb = ctx.upload(x), yb = poisoned(ctx, N + parts);
      ctx.run((pass) => {
        let r0 = 0, p0 = N;
        lw.blocks.forEach((b, i) => {
          kernels[i].encode(pass, { x: xb, rowStart: r0, seg1: { w: b.buffer, yOff: 0, epi: 0 }, y: yb, partOff: p0 });
          r0 += b.rows;
          p0 += kernels[i].partialFloats;
        });
      });
      const got = await ctx.readF32(yb, N + parts);
      const ref = decodeMatvecRef({ x, w, K, N });
      expect(relErr(got.subarray(0, N), ref)).toBeLessThan(TOL);
      // every partial is the max of a contiguous range of rows; together they cover the rows in order
      let best = -Infinity, bi = -1, lo = 0;
      for (let p = N; p < N + parts; p += 3) {
        expect(got[p + 2]).toBe(0);
        const idx = got[p + 1];
        expect(idx).toBeGreaterThanOrEqual(lo);
        expect(got[p]).toBe(got[idx]);
        lo = idx + 1;
        if (got[p] > best) { best = got[p]; bi = idx; }
      }
      expect(bi).toBe(1500);
      // a NaN row: flagged in its partial, counted as the lowest value
      const wn = w.slice();
      wn[10 * K] = NaN;
      const ln = uploadLinear(ctx, wn, N, K, { dtype: 'f32' });
      const kn = new DecodeMatvec(ctx, { K, N, dtype: 'f32', argmax: true, rep });
      const yn = poisoned(ctx, N + kn.partialFloats);
      ctx.run((pass) => kn.encode(pass, { x: xb, seg1: { w: ln.blocks[0].buffer, yOff: 0, epi: 0 }, y: yn, partOff: N }));
      const gn = await ctx.readF32(yn, N + kn.partialFloats);
      const flags = [];
      for (let p = N; p < N + kn.partialFloats; p += 3) { flags.push(gn[p + 2]); expect(Number.isNaN(gn[gn[p + 1]])).toBe(false); }
      expect(flags.filter((f) => f === 1).length).toBe(1);
      expect(flags[0]).toBe(1);
      releaseLinear(ctx, lw); releaseLinear(ctx, ln);
      ctx.pool.release(xb); ctx.pool.release(yb); ctx.pool.release(yn);
    });

    it('rejects bad arguments with clear errors', async () => {
      const ctx = await gpu(tiling);
      const k = new DecodeMatvec(ctx, { K: 8, N: 4, dtype: 'f32', norm: 'rms' });
      const b = ctx.buffer(256);
      const small = ctx.buffer(16);
      expect(() => ctx.run((pass) => k.encode(pass, { x: small, seg1: { w: b, yOff: 0, epi: 0 }, y: ctx.buffer(64), pack: b }))).toThrow(/x needs 8 floats/);
      expect(() => ctx.run((pass) => k.encode(pass, { x: b, seg1: { w: b, yOff: 0, epi: 0 }, y: ctx.buffer(64) }))).toThrow(/no pack buffer/);
      expect(() => new DecodeMatvec(ctx, { K: 0, N: 4, dtype: 'f32' })).toThrow(/K = 0/);
    });
  });
}

describe('kernel plans by adapter', () => {
  it('a software adapter takes the CPU plans by default; either context can be forced', async () => {
    const auto = await gpu();
    // Dawn here runs on SwiftShader (tools/webgpu-env.sh); on a real GPU both are false
    expect(auto.cpuTiling).toBe(auto.cpuAdapter);
    const [g, c] = [await gpu('gpu'), await gpu('cpu')];
    expect([g.cpuTiling, c.cpuTiling]).toEqual([false, true]);
    const K = 384;
    const N = 768;
    const cp = DecodeMatvec.plan(c, K, N, 'f16');
    expect([cp.lanes, cp.rows, cp.constants.WG]).toEqual([1, DecodeMatvec.CPU_WG, DecodeMatvec.CPU_WG]);
    const gp = DecodeMatvec.plan(g, K, N, 'f16');
    expect(gp.constants.WG).toBe(Math.min(256, g.limits.maxComputeInvocationsPerWorkgroup));
    expect(gp.lanes).toBeGreaterThanOrEqual(8);
    // an explicit lane count is a tiling a caller asked for: both contexts honour it
    expect(DecodeMatvec.plan(c, K, N, 'f16', { lanes: 16 }).lanes).toBe(16);
  });
});
