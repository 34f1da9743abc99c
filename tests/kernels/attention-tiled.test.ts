/** The tiled flash attention kernel (register tiles, online softmax) against the float64 oracle: forced tilings on odd
 *  shapes, subgroup reductions, the plans. Its own file so that its compiles (most of the attention tests' time on
 *  SwiftShader) run beside the other attention tests. */
import { describe, expect, it } from 'vitest';
import { gpu, poisoned, relErr } from '../gpu';
import { FlashAttention } from '../../src/kernels/attention';
import { subgroupMinSize } from '../../src/kernels/attention_flash';
import { flashPlan, flashTiles, tiledExact, tiledProblem, tiledReductionSlots, tiledStorage, SMALL_GRID } from '../../src/kernels/attention_flash_plan';
import { LimitExceededError } from '../../src/gpu/errors';
import { attentionReference } from '../../src/reference/attention';
import { TOL, makeInputs, runPrefill, prefillShapes, forcedTilings, everyOtherShape } from './attention-cases';

describe('flash attention, tiled kernel (register tiles, online softmax)', () => {
  for (const [n, s] of prefillShapes.entries()) {
    it(`H=${s.H} hd=${s.hd} L=${s.L} pos0=${s.pos0}: forced tilings, reductions in their own slots or in V`, async () => {
      const ctx = await gpu('gpu');
      const maxLen = s.pos0 + s.L + 5;
      const lim = ctx.limits;
      const ran: string[] = [];
      let exact = false;
      for (const [BR, BC] of forcedTilings) {
        if (ran.length >= 3 && exact) break;
        if (ran.length >= 3 && !tiledExact(s.hd, BC)) continue;
        // Variants rotate over the tilings of a shape: own slots, own slots, in V.
        const redInV = ran.length === 2;
        if (tiledProblem(s.hd, BR, BC, lim.maxComputeWorkgroupStorageSize, lim.maxComputeInvocationsPerWorkgroup, { redInV })) continue;
        const k = new FlashAttention(ctx, { H: s.H, hd: s.hd, maxLen }, { kernel: 'tiled', BR, BC, redInV });
        expect(k.tiles).toMatchObject({ kernel: 'tiled', BR, BC, sg: false, redInV });
        expect(tiledReductionSlots({ redInV })).toBe(redInV ? 'v' : 'own');
        const err = await runPrefill(ctx, k, s.H, s.hd, s.L, s.pos0, maxLen, 20 + n + BR + BC);
        expect(err, `BR=${BR} BC=${BC} redInV=${redInV}`).toBeLessThan(TOL);
        ran.push(`${BR}x${BC}`);
        exact ||= tiledExact(s.hd, BC);
      }
      expect(ran.length).toBeGreaterThanOrEqual(3);
      expect(exact, `an exact tiling ran for hd ${s.hd}: ${ran.join(', ')}`).toBe(true);
    });
  }

  it('subgroup row reductions: every other shape, the first tiling with BC/4 <= the smallest subgroup size that fits', async (t) => {
    const ctx = await gpu('gpu');
    const sgMin = subgroupMinSize(ctx);
    if (!sgMin) {
      t.skip('this device has no subgroups feature');
      return;
    }
    const lim = ctx.limits;
    const tilings: [number, number][] = [[64, 64], [64, 32], [64, 16], [32, 16], [16, 8], [8, 4]];
    let runs = 0;
    for (const [n, s] of everyOtherShape) {
      const maxLen = s.pos0 + s.L + 5;
      for (const [BR, BC] of tilings) {
        if (tiledProblem(s.hd, BR, BC, lim.maxComputeWorkgroupStorageSize, lim.maxComputeInvocationsPerWorkgroup, { sg: true }, sgMin)) continue;
        const k = new FlashAttention(ctx, { H: s.H, hd: s.hd, maxLen }, { kernel: 'tiled', BR, BC, subgroups: true });
        expect(k.tiles).toMatchObject({ kernel: 'tiled', sg: true, BR, BC });
        expect(k.tiles.storage).toBe(tiledStorage(s.hd, BR, BC, false));
        const err = await runPrefill(ctx, k, s.H, s.hd, s.L, s.pos0, maxLen, 40 + n + BR + BC);
        expect(err, `hd=${s.hd} L=${s.L} BR=${BR} BC=${BC} sg`).toBeLessThan(TOL);
        runs++;
        break;
      }
    }
    expect(runs).toBe(everyOtherShape.length);
  });

  it('default plan on this device: large tiling for big grids, a smaller one for short prompts; both match the oracle', async () => {
    const ctx = await gpu('gpu');
    const H = 3, hd = 64, maxLen = 240;
    const k = new FlashAttention(ctx, { H, hd, maxLen });
    const lim = ctx.limits;
    expect(k.plan).toEqual(flashPlan(hd, lim.maxComputeWorkgroupStorageSize, lim.maxComputeInvocationsPerWorkgroup));
    expect(k.tiles.storage).toBeLessThanOrEqual(lim.maxComputeWorkgroupStorageSize);
    if (lim.maxComputeWorkgroupStorageSize >= tiledStorage(64, 64, 16)) {
      expect(k.tiles.kernel).toBe('tiled');
      const small = k.plan.small!;
      expect(small.BR).toBeLessThan(k.tiles.BR);
      // The switch point: ceil(L / BR_large) * H workgroups against SMALL_GRID.
      const Lbig = Math.ceil(SMALL_GRID / H) * k.tiles.BR;
      expect(k.tilesFor(Lbig)).toBe(k.tiles);
      expect(k.tilesFor(Lbig - k.tiles.BR)).toBe(small);
      // This test's calls are short prompts: they run the small tiling.
      expect(k.tilesFor(200)).toBe(small);
    }
    expect(await runPrefill(ctx, k, H, hd, 200, 33, maxLen, 77)).toBeLessThan(TOL);
    expect(await runPrefill(ctx, k, H, hd, 1, 0, maxLen, 78)).toBeLessThan(TOL);
  });

  it('CPU plans (GpuContext.cpuTiling): one 32 x 32 tiling for every length unless the caller picks one; matches the oracle', async () => {
    const ctx = await gpu('cpu');
    const H = 3, hd = 64, maxLen = 240;
    const k = new FlashAttention(ctx, { H, hd, maxLen });
    expect(k.plan.small).toBeUndefined();
    expect(k.tiles).toMatchObject({ kernel: 'tiled', BR: 32, BC: 32 });
    expect(k.tilesFor(1)).toBe(k.tiles);
    expect(new FlashAttention(ctx, { H, hd, maxLen }, { kernel: 'tiled', BR: 64, BC: 16 }).tiles).toMatchObject({ BR: 64, BC: 16 });
    expect(await runPrefill(ctx, k, H, hd, 200, 33, maxLen, 79)).toBeLessThan(TOL);
    expect(await runPrefill(ctx, k, H, hd, 1, 0, maxLen, 80)).toBeLessThan(TOL);
  });

  it('large scores (|s| ~ 1e3): online softmax stays finite and exact', async () => {
    const ctx = await gpu('gpu');
    const H = 2, hd = 64, L = 150, pos0 = 0, maxLen = 150;
    const { q, k, v } = makeInputs(H, hd, L, pos0, maxLen, 5);
    for (let i = 0; i < q.length; i++) q[i] *= 30;
    for (let i = 0; i < k.length; i++) k[i] *= 10;
    const ref = attentionReference(q, k, v, { H, hd, L, pos0, maxLen });
    const kern = new FlashAttention(ctx, { H, hd, maxLen }, { kernel: 'tiled', BR: 32, BC: 16 });
    const qb = ctx.upload(q), kb = ctx.upload(k), vb = ctx.upload(v), ob = poisoned(ctx, L * H * hd);
    ctx.run((pass) => kern.encode(pass, { q: qb, kCache: kb, vCache: vb, out: ob, L, pos0, maxLen }));
    const out = await ctx.readF32(ob, L * H * hd);
    for (const b of [qb, kb, vb, ob]) ctx.pool.release(b);
    expect(out.every(Number.isFinite)).toBe(true);
    expect(relErr(out, ref)).toBeLessThan(TOL);
  });

  it('tile choice: preferred tilings by limits, rowwise when none fits, clear errors for bad forced tiles', () => {
    // H200 limits (48 KiB, subgroups of 32): 64 x 64 with subgroup reductions at every length (fastest there from
    // 512 to 32k); without subgroups 64 x 64 with the reductions in the V tile; where neither fits, 96 x 32 for long
    // prompts and 64 x 32 for short ones.
    expect(flashPlan(64, 49152, 1024, {}, 32)).toEqual({ large: { kernel: 'tiled', BR: 64, BC: 64, sg: true, redInV: false, threads: 256, storage: tiledStorage(64, 64, 64, false) } });
    expect(flashPlan(64, 49152, 1024)).toEqual({ large: { kernel: 'tiled', BR: 64, BC: 64, sg: false, redInV: true, threads: 256, storage: 49152 } });
    expect(flashPlan(64, 49152, 1024, {}, 8)).toMatchObject({ large: { BR: 64, BC: 64, sg: false, redInV: true } }); // BC/4 = 16 lanes > 8
    expect(flashPlan(64, 49151, 1024)).toMatchObject({ large: { kernel: 'tiled', BR: 96, BC: 32, threads: 192, storage: 48128 }, small: { BR: 64, BC: 32 } });
    // SwiftShader limits (32 KiB, 256 invocations).
    expect(flashPlan(64, 32768, 256)).toMatchObject({ large: { BR: 64, BC: 16, threads: 64 }, small: { BR: 32, BC: 32 } });
    expect(flashTiles(64, 16384, 256)).toMatchObject({ kernel: 'rowwise' });
    expect(flashTiles(256, 49152, 1024)).toMatchObject({ kernel: 'rowwise' });
    expect(flashTiles(64, 49152, 1024, { kernel: 'rowwise' })).toMatchObject({ kernel: 'rowwise', G: 2 });
    expect(tiledStorage(64, 64, 32)).toBe(4 * (64 * 64 + 64 * 32 + 32 * 64 + 64 * 8));
    expect(() => flashTiles(64, 49152, 1024, { kernel: 'tiled', BR: 64, BC: 64 })).toThrow(LimitExceededError);
    expect(() => flashTiles(64, 49152, 1024, { kernel: 'tiled', BR: 62, BC: 32 })).toThrow(/multiple of 4/);
    // Any head dim: BC/4 need not divide ceil(hd/4) when forced (idle accumulators), and the default prefers
    // tilings where it does. hd 48 (12 vec4s): 96x32 (NTX 8) is not exact, 128x16 (NTX 4) is.
    expect(flashTiles(48, 49152, 1024, { kernel: 'tiled', BR: 64, BC: 32 })).toMatchObject({ kernel: 'tiled', BR: 64, BC: 32 });
    expect(flashPlan(48, 49152, 1024)).toMatchObject({ large: { BR: 128, BC: 16 } });
    // hd 10 (3 vec4s, padded to 12 dims): no preferred tiling is exact, so the first that fits.
    expect(flashPlan(10, 49152, 1024)).toMatchObject({ large: { kernel: 'tiled', BR: 96, BC: 32, storage: tiledStorage(12, 96, 32) }, small: { BR: 64, BC: 32 } });
    expect(tiledStorage(10, 96, 32)).toBe(tiledStorage(12, 96, 32));
    // Small head dims leave room for the tiled kernel even at the 16 KiB default.
    expect(flashTiles(10, 16384, 256)).toMatchObject({ kernel: 'tiled', BR: 64, BC: 32, storage: tiledStorage(12, 64, 32) });
    expect(flashTiles(10, 4096, 256)).toMatchObject({ kernel: 'rowwise', G: 1 });
    expect(() => flashTiles(0, 49152, 1024)).toThrow(/positive integer/);
    expect(() => flashTiles(10.5, 49152, 1024, { kernel: 'rowwise' })).toThrow(/positive integer/);
    expect(() => flashTiles(256, 16384, 256, { kernel: 'tiled' })).toThrow(/no tiled kernel tiling fits/);
    // 64 x 64 fits 48 KiB exactly when the reduction slots need no space of their own: subgroups of >= 16, or in V.
    expect(flashTiles(64, 49152, 1024, { BR: 64, BC: 64, subgroups: true }, 32)).toMatchObject({ kernel: 'tiled', sg: true, threads: 256, storage: 49152 });
    expect(flashTiles(64, 49152, 1024, { BR: 64, BC: 64, redInV: true })).toMatchObject({ kernel: 'tiled', redInV: true, threads: 256, storage: 49152 });
    expect(() => flashTiles(64, 49152, 1024, { BR: 64, BC: 64, subgroups: true }, 8)).toThrow(/smallest subgroup size 8/);
    expect(() => flashTiles(64, 49152, 1024, { BR: 64, BC: 32, subgroups: true }, 0)).toThrow(/subgroups are not available/);
    expect(() => flashTiles(96, 49152, 1024, { BR: 64, BC: 24, subgroups: true }, 32)).toThrow(/power of two/);
    expect(() => flashTiles(64, 49152, 1024, { BR: 128, BC: 32 })).toThrow(LimitExceededError);
    expect(() => flashTiles(64, 49152, 1024, { BR: 64, BC: 32, subgroups: true, redInV: true }, 32)).toThrow(/alternatives/);
  });
});

