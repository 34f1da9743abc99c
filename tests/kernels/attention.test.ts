import { describe, expect, it } from 'vitest';
import { gpu, poisoned, randArray, relErr } from '../gpu';
import type { GpuContext } from '../../src/gpu/context';
import { Attention, DecodeAttention, FlashAttention, ReferenceAttention, fusedQkvLayout, type PrefillArgs } from '../../src/kernels/attention';
import { subgroupMinSize } from '../../src/kernels/attention_flash';
import { flashPlan, flashTiles, rowwiseTiles, tiledExact, tiledProblem, tiledReductionSlots, tiledStorage, SMALL_GRID } from '../../src/kernels/attention_flash_plan';
import { RotaryKvKernel } from '../../src/kernels/rotary';
import { KvCache } from './kvcache';
import { LimitExceededError } from '../../src/gpu/errors';
import { attentionReference, decodeAttentionReference } from '../../src/reference/attention';
import { rotaryDims } from '../../src/math/rotary';
import { rotaryKvReference } from '../../src/reference/rotary';

const TOL = 1e-4;

/** Random q [H, L, hd] and caches [H, maxLen, hd] whose rows 0..pos0+L-1 are random and the rest NaN (a kernel that
 * reads past the visible keys fails). */
function makeInputs(H: number, hd: number, L: number, pos0: number, maxLen: number, seed: number) {
  const q = randArray(H * L * hd, seed, -2, 2);
  const k = new Float32Array(H * maxLen * hd).fill(NaN);
  const v = new Float32Array(H * maxLen * hd).fill(NaN);
  const kr = randArray(H * maxLen * hd, seed + 1, -2, 2);
  const vr = randArray(H * maxLen * hd, seed + 2, -1, 1);
  for (let h = 0; h < H; h++) {
    for (let p = 0; p < pos0 + L; p++) {
      for (let i = 0; i < hd; i++) {
        const a = (h * maxLen + p) * hd + i;
        k[a] = kr[a];
        v[a] = vr[a];
      }
    }
  }
  return { q, k, v };
}

type Prefill = { encode(pass: GPUComputePassEncoder, a: PrefillArgs): void };

async function runPrefill(ctx: GpuContext, kernel: Prefill, H: number, hd: number, L: number, pos0: number, maxLen: number, seed: number): Promise<number> {
  const { q, k, v } = makeInputs(H, hd, L, pos0, maxLen, seed);
  const ref = attentionReference(q, k, v, { H, hd, L, pos0, maxLen });
  const qb = ctx.upload(q);
  const kb = ctx.upload(k, 'kv-cache');
  const vb = ctx.upload(v, 'kv-cache');
  const ob = poisoned(ctx, L * H * hd);
  ctx.run((pass) => kernel.encode(pass, { q: qb, kCache: kb, vCache: vb, out: ob, L, pos0, maxLen }));
  const out = await ctx.readF32(ob, L * H * hd);
  for (const b of [qb, kb, vb, ob]) ctx.pool.release(b);
  return relErr(out, ref);
}

const prefillShapes = [
  { H: 4, hd: 64, L: 1, pos0: 0 },
  { H: 3, hd: 32, L: 131, pos0: 0 },
  { H: 2, hd: 64, L: 257, pos0: 0 },
  { H: 2, hd: 64, L: 23, pos0: 40 },
  { H: 2, hd: 48, L: 33, pos0: 3 },
  { H: 2, hd: 80, L: 77, pos0: 0 },
  { H: 2, hd: 96, L: 45, pos0: 19 },
  { H: 2, hd: 128, L: 70, pos0: 5 },
  { H: 1, hd: 256, L: 40, pos0: 9 },
  // Head dims that are not a multiple of 4 (issue 14: every shape transformers accepts; e.g. 5 heads x 10):
  // scalar IO, rows padded to ceil(hd/4) vec4s.
  { H: 5, hd: 10, L: 37, pos0: 6 },
  { H: 2, hd: 6, L: 70, pos0: 0 },
  { H: 3, hd: 18, L: 29, pos0: 11 },
  // 9 vec4s: the rowwise kernel splits a row over G = 2 threads of 5 vec4s (K/V rows padded to 10 vec4s).
  { H: 2, hd: 36, L: 50, pos0: 7 },
];

/** Tilings [BR, BC] of the tiled kernel the tests force: per shape the first three that fit the device
 * (SwiftShader: 32 KiB, 256 invocations), plus the first one whose BC/4 divides ceil(hd/4) when none of the three
 * does, so every shape runs both with and without idle output accumulators, and NTX = BC/4 of 1 to 16 and
 * NTY = BR/4 of 2 to 16 all run (shader compiles dominate the test time on SwiftShader, hence not every tiling for
 * every shape). */
const forcedTilings: [number, number][] = [[96, 32], [64, 32], [32, 64], [64, 16], [16, 64], [32, 32], [16, 8], [16, 12], [8, 8], [20, 20], [8, 4], [4, 4]];

/** Half of the shapes (hd 64 at L 1 and 257, 48, 96, 256, 6, 36) for the variant sweeps below: shader compiles
 * dominate their time on SwiftShader, and the forced-tiling tests above already run every shape. */
const everyOtherShape = [...prefillShapes.entries()].filter(([n]) => n % 2 === 0);

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
