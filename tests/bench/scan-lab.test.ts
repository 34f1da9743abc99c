/**
 * The kernel lab's scan forms (src/bench/lab/scan-lab.ts) against the same CPU oracle as the production scan, with the
 * same problems (tests/kernels/scan-problem.ts).
 */
import { describe, expect, it } from 'vitest';
import { LocalScan, OnePassScan, planLocal, planOnePass, type LocalScanOptions, type OnePassConfig } from '../../src/bench/lab/scan-lab';
import { gpu, makeProblem, reference, relErr, runScan, TOL, upload } from '../kernels/scan-problem';

const local = (o: LocalScanOptions) => (ctx: Awaited<ReturnType<typeof gpu>>, D: number, N: number) => new LocalScan(ctx, D, N, o);
const onePass = (cfg: OnePassConfig) => (ctx: Awaited<ReturnType<typeof gpu>>, D: number, N: number) => new OnePassScan(ctx, D, N, cfg);

describe('lab: one-pass scan on the production shapes (assertFast: the subgroup path ran)', () => {
  for (const [L, D, N] of [[1, 48, 8], [131, 48, 16], [37, 40, 5], [4097, 64, 16]] as const) {
    it(`L=${L} D=${D} N=${N}: strided views, equals the three passes`, async () => {
      const ctx = await gpu();
      if (!ctx.has('subgroups')) return;
      const p = makeProblem(L, D, N, L * 7 + N, true);
      const g = upload(ctx, p);
      const ref = reference(p);
      const one = await runScan(ctx, p, g, { yOff: 2, yStride: D + 1, make: onePass({ assertFast: true }) });
      expect(relErr(one.y, ref.y), 'y').toBeLessThan(TOL);
      expect(relErr(one.h, ref.hL), 'hL').toBeLessThan(TOL);
      const three = await runScan(ctx, p, g, { variant: 'fused' });
      expect(relErr(one.y, three.y), 'vs three passes y').toBeLessThan(TOL);
      g.release();
    });
  }
});

/**
 * The one-dispatch short-L form of the chunked kernel (lab/selective_scan_chunk_local): all chunks of a few channels in
 * one workgroup, the combine as a scan over chunks in workgroup memory. Each case checks the plan and compares with
 * the CPU oracle and with the production three passes.
 */
describe('lab: chunked scan in one dispatch for short L vs CPU oracle', () => {
  // [L, D, N, options]: chunk counts 2..32 (non-power-of-2, last chunk partial), chunks shorter than a tile, odd D
  // (dead channels in the last workgroup), N not a multiple of 4, N = 64 (fewer chunks so the states fit), 1 and 3
  // channels per workgroup.
  const cases: [number, number, number, LocalScanOptions][] = [
    [512, 40, 16, {}],
    [131, 45, 13, { threads: 45 * 5 }],
    [100, 37, 5, { channels: 3 }],
    [33, 48, 16, { threads: 48 * 3, channels: 1 }],
    [1024, 24, 16, { threads: 24 * 7 }],
    [300, 8, 64, {}],
    [777, 20, 16, { tile: 8, threads: 20 * 6 }],
  ];
  for (const [L, D, N, o] of cases) {
    it(`L=${L} D=${D} N=${N} ${JSON.stringify(o)}: strided views, gate, equals the three passes`, async () => {
      const ctx = await gpu();
      const p = makeProblem(L, D, N, L * 3 + D + N, true);
      const g = upload(ctx, p);
      const ref = reference(p);
      const scan = new LocalScan(ctx, D, N, o);
      const plan = scan.plan(L);
      if (typeof plan === 'string') throw new Error(plan);
      expect(plan.nc).toBeGreaterThanOrEqual(2);
      expect(plan.nc).toBeLessThanOrEqual(plan.nch);
      scan.destroy();
      const one = await runScan(ctx, p, g, { yOff: 3, yStride: D + 2, make: local(o) });
      expect(relErr(one.y, ref.y), 'one dispatch y').toBeLessThan(TOL);
      expect(relErr(one.h, ref.hL), 'one dispatch hL').toBeLessThan(TOL);
      const three = await runScan(ctx, p, g, { variant: 'fused' });
      expect(relErr(one.y, three.y), 'vs three passes y').toBeLessThan(TOL);
      expect(relErr(one.h, three.h), 'vs three passes hL').toBeLessThan(TOL);
      g.release();
    });
  }

  it('initial state (separate buffer and in place h0 === hFinal), with and without gate', async () => {
    const ctx = await gpu();
    const p = makeProblem(203, 36, 16, 4242);
    const g = upload(ctx, p);
    for (const gate of [true, false]) {
      const ref = reference(p, { init: true, gate });
      for (const o of [{}, { threads: 36 * 3 }] as LocalScanOptions[]) {
        const tag = `${JSON.stringify(o)} gate=${gate}`;
        const h0 = ctx.upload(p.h0, 'ssm-state');
        const sep = await runScan(ctx, p, g, { gate, h0, make: local(o) });
        expect(relErr(sep.y, ref.y), `${tag} y (separate h0)`).toBeLessThan(TOL);
        expect(relErr(sep.h, ref.hL), `${tag} hL (separate h0)`).toBeLessThan(TOL);
        expect(await ctx.readF32(h0, p.D * p.N)).toEqual(p.h0);
        const inPlace = await runScan(ctx, p, g, { gate, h0, hFinal: h0, make: local(o) });
        expect(relErr(inPlace.y, ref.y), `${tag} y (in place)`).toBeLessThan(TOL);
        expect(relErr(inPlace.h, ref.hL), `${tag} hL (in place)`).toBeLessThan(TOL);
        ctx.pool.release(h0);
      }
    }
    g.release();
  });

  it('plans only where there are several chunks; the plan fits the limits', async () => {
    const ctx = await gpu();
    const scan = new LocalScan(ctx, 1536, 16);
    expect(scan.plan(20)).toMatch(/one chunk/);
    expect(typeof scan.plan(512)).toBe('object');
    scan.destroy();
    const h200 = { maxInvocations: 1024, maxWgStorage: 48 << 10 };
    // L = 512 at D = 1536: 32 chunks of 16 tokens, 8 channels x 32 chunks = 256 threads, 192 workgroups.
    expect(planLocal(512, 1536, 16, {}, h200)).toMatchObject({ chunk: 16, nc: 32, nch: 32, cw: 8, wgs: 256, tt: 4 });
    expect(planLocal(512, 1536, 16, { threads: 98304 }, h200)).toMatchObject({ chunk: 8, nc: 64, nch: 64, wgs: 512 });
    for (const [L, N, lim] of [[512, 16, h200], [1024, 64, h200], [512, 16, { maxInvocations: 256, maxWgStorage: 16 << 10 }]] as const) {
      const pl = planLocal(L, 1536, N, { threads: 98304 }, lim);
      if (typeof pl === 'string') throw new Error(pl);
      expect(pl.smemBytes).toBeLessThanOrEqual(lim.maxWgStorage);
      expect(pl.wgs).toBeLessThanOrEqual(lim.maxInvocations);
      expect(pl.nc * pl.chunk).toBeGreaterThanOrEqual(L);
    }
    expect(planLocal(512, 1536, 16, { tile: 8 }, h200)).toMatchObject({ chunk: 16, tt: 8 });
    expect(planLocal(512, 1536, 16, { tile: 8 }, { maxInvocations: 256, maxWgStorage: 32 << 10 })).toMatchObject({ tt: 4 });
    expect(planLocal(512, 1536, 16, { tile: 3 }, h200)).toMatch(/localTile = 3/);
    expect(planLocal(512, 1536, 16, { cw: 1024 }, h200)).toMatch(/exceed 1024 invocations/);
    expect(planLocal(512, 1536, 64, {}, { maxInvocations: 256, maxWgStorage: 1024 })).toMatch(/workgroup memory/);
  });
});

/**
 * The one-pass subgroup kernel in its configurations. On SwiftShader (subgroup size 4) sv = 1 gives Q = 4 state lanes
 * and P = 1 time lane; sv = 2 and 4 give P = 2 and 4, so the shuffle scan over time lanes runs. assertFast makes the
 * in-kernel sequential fallback poison h_L, so a pass proves the subgroup path ran; forceSlow checks that fallback.
 */
describe('lab: one-pass fused scan (subgroups) vs CPU oracle', () => {
  const configs: [string, OnePassConfig][] = [
    ['default', {}],
    ['sv=2 (2 time lanes on SwiftShader)', { sv: 2 }],
    ['sv=4 (4 time lanes), s=3', { sv: 4, s: 3 }],
    ['sv=4, recompute exp, wc=3', { sv: 4, storeA: false, wc: 3 }],
    ['wc=1, s=5', { wc: 1, s: 5, sv: 2 }],
    ['transposing y reduction', { ybf: true, s: 8 }],
    ['transposing y reduction, sv=2, recompute', { ybf: true, sv: 2, s: 6, storeA: false }],
  ];
  // [L, D, N, configs]: odd D, N < 16, N not a multiple of 4, N = 64, long L with many chunks.
  const all = configs.map((c) => c[0]);
  const shapes: [number, number, number, string[]][] = [
    [1, 48, 16, all], [131, 45, 16, all], [37, 40, 5, all], [300, 33, 13, [...all.slice(0, 3), all[5]]], [64, 8, 64, all.slice(0, 2)],
    [2053, 20, 16, [...all.slice(1, 3), all[6]]],
  ];

  it('configs x shapes, strided views, gate', async () => {
    const ctx = await gpu();
    if (!ctx.has('subgroups')) {
      expect(() => new OnePassScan(ctx, 48, 16)).toThrow(/one-pass kernel unavailable: no subgroups/);
      return;
    }
    for (const [L, D, N, names] of shapes) {
      const p = makeProblem(L, D, N, L * 13 + D + N, true);
      const g = upload(ctx, p);
      const ref = reference(p);
      for (const [name, cfg] of configs.filter((c) => names.includes(c[0]))) {
        const out = await runScan(ctx, p, g, { yOff: 5, yStride: D + 3, make: onePass({ ...cfg, assertFast: true }) });
        expect(relErr(out.y, ref.y), `${name} L=${L} D=${D} N=${N} y`).toBeLessThan(TOL);
        expect(relErr(out.h, ref.hL), `${name} L=${L} D=${D} N=${N} hL`).toBeLessThan(TOL);
      }
      g.release();
    }
  });

  it('initial state (separate and in place), no gate, and the in-kernel sequential fallback', async () => {
    const ctx = await gpu();
    if (!ctx.has('subgroups')) return;
    const p = makeProblem(203, 36, 16, 909);
    const g = upload(ctx, p);
    for (const gate of [true, false]) {
      const ref = reference(p, { init: true, gate });
      for (const cfg of [{ sv: 4, s: 4, assertFast: true }, { assertFast: true }, { forceSlow: true }] as OnePassConfig[]) {
        const tag = `${JSON.stringify(cfg)} gate=${gate}`;
        const h0 = ctx.upload(p.h0, 'ssm-state');
        const sep = await runScan(ctx, p, g, { gate, h0, make: onePass(cfg) });
        expect(relErr(sep.y, ref.y), `${tag} y (separate h0)`).toBeLessThan(TOL);
        expect(relErr(sep.h, ref.hL), `${tag} hL (separate h0)`).toBeLessThan(TOL);
        expect(await ctx.readF32(h0, p.D * p.N)).toEqual(p.h0);
        const inPlace = await runScan(ctx, p, g, { gate, h0, hFinal: h0, make: onePass(cfg) });
        expect(relErr(inPlace.y, ref.y), `${tag} y (in place)`).toBeLessThan(TOL);
        expect(relErr(inPlace.h, ref.hL), `${tag} hL (in place)`).toBeLessThan(TOL);
        ctx.pool.release(h0);
      }
    }
    g.release();
  });

  it('the plan fits the device limits and refuses what cannot run', () => {
    const dev = { hasSubgroups: true, sgMin: 32, sgMax: 32, maxInvocations: 1024, maxWgStorage: 48 << 10 };
    const plan = planOnePass(16, { wc: 8, s: 16 }, dev);
    if (typeof plan === 'string') throw new Error(plan);
    expect(plan).toMatchObject({ q: 4, nv4: 4, tcMax: 128, wgs: 256 });
    expect(plan.smemBytes).toBeLessThanOrEqual(48 << 10);
    const small = planOnePass(16, { wc: 8, s: 16 }, { ...dev, maxWgStorage: 16 << 10 });
    if (typeof small === 'string') throw new Error(small);
    expect(small.smemBytes).toBeLessThanOrEqual(16 << 10);
    expect(planOnePass(16, {}, { ...dev, hasSubgroups: false })).toMatch(/no subgroups/);
    // N = 64 on 4-wide subgroups: sv is raised to 4 so Q = 4 lanes fit.
    expect(planOnePass(64, { sv: 1 }, { ...dev, sgMin: 4, sgMax: 4, maxInvocations: 256 })).toMatchObject({ sv: 4, q: 4 });
  });
});

