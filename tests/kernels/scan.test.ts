import { describe, expect, it } from 'vitest';
import { gpu, rng, poisoned, relErr } from '../gpu';
import type { GpuContext } from '../../src/gpu/context';
import { LOCAL_MAX_L_DESIGN, SelectiveScan, SCAN_VARIANTS, planLocal, planOnePass, type FusedImpl, type OnePassConfig, type ScanVariant, type ScanOptions } from '../../src/kernels/scan';
import { SsmStep } from '../../src/kernels/ssm_step';
import { packSsmParams, SsmParamsPacker, ssmParamsLength } from '../../src/kernels/ssm_params';
import { aFromALog, selectiveScanRef, type View } from '../../src/reference/scan';
import { GpuFiller } from '../../src/bench/fill';

const TOL = 1e-4;

function gauss(r: () => number): number {
  const u1 = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * r());
}

/**
 * Realistic Mamba inputs laid out the way the model has them: z inside an in_proj-like [L, 2D] buffer (cols D..2D),
 * B and C inside an x_proj-like [L, R+2N] buffer (cols R.. and R+N..), u and delta in their own [L, D] buffers
 * (u optionally with a padded row stride), packed SSM params, optional initial state.
 */
interface Problem {
  L: number; D: number; N: number; R: number;
  inproj: Float32Array; xproj: Float32Array; u: Float32Array; uOff: number; uStride: number; delta: Float32Array;
  aLog: Float32Array; Dskip: Float32Array; deltaBias: Float32Array; h0: Float32Array;
}

function makeProblem(L: number, D: number, N: number, seed: number, padU = false): Problem {
  const r = rng(seed);
  const R = 5;
  const inproj = new Float32Array(L * 2 * D).map(() => gauss(r));
  const xproj = new Float32Array(L * (R + 2 * N)).map(() => gauss(r));
  const uOff = padU ? 3 : 0;
  const uStride = padU ? D + 7 : D;
  const u = new Float32Array(uOff + L * uStride).map(() => gauss(r));
  const delta = new Float32Array(L * D).map(() => gauss(r) * 0.5);
  const aLog = new Float32Array(D * N);
  for (let d = 0; d < D; d++) for (let n = 0; n < N; n++) aLog[d * N + n] = Math.log(n + 1);
  const Dskip = new Float32Array(D).map(() => 1 + 0.1 * gauss(r));
  // Mamba's dt init: dt = exp(U(log 1e-3, log 1e-1)), bias = softplus⁻¹(dt).
  const deltaBias = new Float32Array(D).map(() => {
    const dt = Math.exp(Math.log(1e-3) + r() * (Math.log(1e-1) - Math.log(1e-3)));
    return dt + Math.log(-Math.expm1(-dt));
  });
  const h0 = new Float32Array(D * N).map(() => gauss(r));
  return { L, D, N, R, inproj, xproj, u, uOff, uStride, delta, aLog, Dskip, deltaBias, h0 };
}

function reference(p: Problem, opts: { gate?: boolean; init?: boolean; Lend?: number; Lstart?: number; h0?: Float32Array } = {}) {
  const { D, N, R } = p;
  const start = opts.Lstart ?? 0;
  const L = (opts.Lend ?? p.L) - start;
  const row = (data: Float32Array, stride: number, off = 0): View => ({ data, offset: off + start * stride, rowStride: stride });
  return selectiveScanRef({
    L, D, N,
    u: row(p.u, p.uStride, p.uOff),
    delta: row(p.delta, D),
    B: row(p.xproj, R + 2 * N, R),
    C: row(p.xproj, R + 2 * N, R + N),
    z: opts.gate === false ? undefined : row(p.inproj, 2 * D, D),
    A: aFromALog(p.aLog),
    Dskip: p.Dskip,
    deltaBias: p.deltaBias,
    h0: opts.h0 ?? (opts.init ? p.h0 : undefined),
  });
}

interface Uploaded {
  inproj: GPUBuffer; xproj: GPUBuffer; u: GPUBuffer; delta: GPUBuffer; params: GPUBuffer;
  release(): void;
}

function upload(ctx: GpuContext, p: Problem): Uploaded {
  const bufs = {
    inproj: ctx.upload(p.inproj),
    xproj: ctx.upload(p.xproj),
    u: ctx.upload(p.u),
    delta: ctx.upload(p.delta),
    params: ctx.upload(packSsmParams(p.aLog, p.Dskip, p.deltaBias, p.D, p.N), 'weights'),
  };
  return { ...bufs, release: () => Object.values(bufs).forEach((b) => ctx.pool.release(b)) };
}

interface RunOpts { variant: ScanVariant; gate?: boolean; h0?: GPUBuffer | null; hFinal?: GPUBuffer; yOff?: number; yStride?: number; scanOpts?: Partial<ScanOptions> }

async function runScan(ctx: GpuContext, p: Problem, g: Uploaded, o: RunOpts) {
  const { L, D, N, R } = p;
  const yOff = o.yOff ?? 0;
  const yStride = o.yStride ?? D;
  const yBuf = poisoned(ctx, yOff + L * yStride);
  const hFinal = o.hFinal ?? poisoned(ctx, D * N, 'ssm-state');
  const scan = new SelectiveScan(ctx, { D, N, ...o.scanOpts });
  await ctx.checked('scan', () =>
    ctx.run((pass) =>
      scan.encode(
        pass,
        {
          L,
          u: { buffer: g.u, offset: p.uOff, rowStride: p.uStride },
          delta: { buffer: g.delta },
          B: { buffer: g.xproj, offset: R, rowStride: R + 2 * N },
          C: { buffer: g.xproj, offset: R + N, rowStride: R + 2 * N },
          z: o.gate === false ? null : { buffer: g.inproj, offset: D, rowStride: 2 * D },
          params: g.params,
          y: { buffer: yBuf, offset: yOff, rowStride: yStride },
          h0: o.h0,
          hFinal,
        },
        o.variant,
      ),
    ),
  );
  const yAll = await ctx.readF32(yBuf, yOff + L * yStride);
  const y = new Float32Array(L * D);
  for (let t = 0; t < L; t++) y.set(yAll.subarray(yOff + t * yStride, yOff + t * yStride + D), t * D);
  const h = await ctx.readF32(hFinal, D * N);
  scan.destroy();
  ctx.pool.release(yBuf);
  if (!o.hFinal) ctx.pool.release(hFinal);
  return { y, h };
}

describe('selective scan (fused / unfused / sequential) vs CPU oracle', () => {
  const shapes: [number, number, number, ScanVariant[]][] = [
    [1, 48, 8, ['fused', 'unfused', 'sequential']],
    [131, 48, 16, ['fused', 'unfused', 'sequential']],
    [37, 40, 5, ['fused', 'unfused', 'sequential']],
    [4097, 64, 16, ['fused', 'unfused', 'sequential']],
  ];
  for (const [L, D, N, variants] of shapes) {
    it(`L=${L} D=${D} N=${N}: ${variants.join(', ')} with strided views`, async () => {
      const ctx = await gpu();
      const p = makeProblem(L, D, N, L * 7 + N, true);
      const g = upload(ctx, p);
      const ref = reference(p);
      const outs: Record<string, { y: Float32Array; h: Float32Array }> = {};
      // 'fused' twice: its default (chunked three-pass) and the one-pass subgroup kernel where the device has it.
      const runs: [string, ScanVariant, Partial<ScanOptions>][] = variants.map((v) => [v, v, {}]);
      if (ctx.has('subgroups')) runs.push(['fused (one pass)', 'fused', { fused: 'onepass', onepass: { assertFast: true } }]);
      for (const [name, variant, scanOpts] of runs) {
        const out = await runScan(ctx, p, g, { variant, yOff: 2, yStride: D + 1, scanOpts });
        outs[name] = out;
        expect(relErr(out.y, ref.y), `${name} y`).toBeLessThan(TOL);
        expect(relErr(out.h, ref.hL), `${name} hL`).toBeLessThan(TOL);
      }
      // The variants agree with each other.
      for (const [v] of runs.slice(1)) {
        expect(relErr(outs[v].y, outs[runs[0][0]].y), `${v} vs ${runs[0][0]}`).toBeLessThan(TOL);
        expect(relErr(outs[v].h, outs[runs[0][0]].h), `${v} vs ${runs[0][0]} state`).toBeLessThan(TOL);
      }
      g.release();
    });
  }

  it('fused is chunked by default; one pass on request, refused with a clear error without subgroups', async () => {
    const ctx = await gpu();
    const scan = new SelectiveScan(ctx, { D: 48, N: 16 });
    expect(scan.fusedImpl).toBe('chunked');
    scan.destroy();
    if (ctx.has('subgroups')) {
      const one = new SelectiveScan(ctx, { D: 48, N: 16, fused: 'onepass' });
      expect(one.fusedImpl).toBe('onepass');
      one.destroy();
    } else {
      expect(() => new SelectiveScan(ctx, { D: 48, N: 16, fused: 'onepass' })).toThrow(/one-pass kernel unavailable: no subgroups/);
    }
  });

  it('fused (chunked): many chunks (L=1500, chunk 16 → 94 chunks, several combine batches), odd D, N=13', async () => {
    const ctx = await gpu();
    const p = makeProblem(1500, 37, 13, 21, true);
    const g = upload(ctx, p);
    const ref = reference(p, { init: true });
    const h0 = ctx.upload(p.h0, 'ssm-state');
    for (const chunk of [16, 32, 112]) {
      const out = await runScan(ctx, p, g, { variant: 'fused', h0, scanOpts: { chunk, fused: 'chunked' } });
      expect(relErr(out.y, ref.y), `chunk ${chunk} y`).toBeLessThan(TOL);
      expect(relErr(out.h, ref.hL), `chunk ${chunk} hL`).toBeLessThan(TOL);
    }
    ctx.pool.release(h0);
    g.release();
  });

  it('fused (chunked): chunk boundaries (forced chunk 32, L=131 → 5 chunks, last has 3 tokens), no gate', async () => {
    const ctx = await gpu();
    const p = makeProblem(131, 48, 16, 11);
    const g = upload(ctx, p);
    const ref = reference(p, { gate: false });
    for (const chunk of [32, 48, 130, 131]) {
      const out = await runScan(ctx, p, g, { variant: 'fused', gate: false, scanOpts: { chunk, fused: 'chunked' } });
      expect(relErr(out.y, ref.y), `chunk ${chunk} y`).toBeLessThan(TOL);
      expect(relErr(out.h, ref.hL), `chunk ${chunk} hL`).toBeLessThan(TOL);
    }
    g.release();
  });

  it('initial state (separate buffer and in place h0 === hFinal), single and multi chunk, all variants', async () => {
    const ctx = await gpu();
    for (const [L, chunk] of [[131, 32], [20, 64]] as const) {
      const p = makeProblem(L, 48, 8, 100 + L);
      const g = upload(ctx, p);
      const ref = reference(p, { init: true });
      const impls: [ScanVariant, FusedImpl][] = [...SCAN_VARIANTS.map((v) => [v, 'chunked'] as [ScanVariant, FusedImpl])];
      if (ctx.has('subgroups')) impls.push(['fused', 'onepass']);
      for (const [variant, fused] of impls) {
        const h0 = ctx.upload(p.h0, 'ssm-state');
        const sep = await runScan(ctx, p, g, { variant, h0, scanOpts: { chunk, fused, unfusedMaxBytes: 48 * 8 * 4 * 50 } });
        expect(relErr(sep.y, ref.y), `${variant}/${fused} L=${L} y (separate h0)`).toBeLessThan(TOL);
        expect(relErr(sep.h, ref.hL), `${variant}/${fused} L=${L} hL (separate h0)`).toBeLessThan(TOL);
        expect(await ctx.readF32(h0, p.D * p.N)).toEqual(p.h0); // h0 untouched
        const inPlace = await runScan(ctx, p, g, { variant, h0, hFinal: h0, scanOpts: { chunk, fused, unfusedMaxBytes: 48 * 8 * 4 * 50 } });
        expect(relErr(inPlace.y, ref.y), `${variant}/${fused} L=${L} y (in place)`).toBeLessThan(TOL);
        expect(relErr(inPlace.h, ref.hL), `${variant}/${fused} L=${L} hL (in place)`).toBeLessThan(TOL);
        ctx.pool.release(h0);
      }
      g.release();
    }
  });

  it('unfused in several segments equals one segment', async () => {
    const ctx = await gpu();
    const p = makeProblem(131, 48, 16, 5);
    const g = upload(ctx, p);
    const ref = reference(p);
    const seg = await runScan(ctx, p, g, { variant: 'unfused', scanOpts: { unfusedMaxBytes: 48 * 16 * 4 * 40 } }); // 40-token segments
    expect(relErr(seg.y, ref.y)).toBeLessThan(TOL);
    expect(relErr(seg.h, ref.hL)).toBeLessThan(TOL);
    g.release();
  });

  it('GPU params packing equals the CPU packing', async () => {
    const ctx = await gpu();
    const p = makeProblem(1, 48, 16, 3);
    const aLog = ctx.upload(p.aLog);
    const dsk = ctx.upload(p.Dskip);
    const db = ctx.upload(p.deltaBias);
    const out = poisoned(ctx, ssmParamsLength(48, 16));
    const packer = new SsmParamsPacker(ctx);
    ctx.run((pass) => packer.encode(pass, aLog, dsk, db, out, 48, 16));
    const got = await ctx.readF32(out, ssmParamsLength(48, 16));
    expect(relErr(got, packSsmParams(p.aLog, p.Dskip, p.deltaBias, 48, 16))).toBeLessThan(1e-6);
    [aLog, dsk, db, out].forEach((b) => ctx.pool.release(b));
  });

  it('rejects bad shapes and views with clear errors', async () => {
    const ctx = await gpu();
    const scan = new SelectiveScan(ctx, { D: 48, N: 16 });
    const small = ctx.buffer(64);
    const xp = ctx.buffer(10 * 37 * 4);
    const io = {
      L: 10, u: { buffer: small }, delta: { buffer: small },
      B: { buffer: xp, offset: 5, rowStride: 37 }, C: { buffer: xp, offset: 21, rowStride: 37 },
      params: small, y: { buffer: small },
    };
    expect(() => ctx.run((pass) => scan.encode(pass, io))).toThrow(/selective scan u: view \[10, 48\]/);
    expect(() => new SelectiveScan(ctx, { D: 48, N: 0 })).toThrow(/N = 0/);
    scan.destroy();
    ctx.pool.release(small);
    ctx.pool.release(xp);
  });
});

/**
 * The one-dispatch short-L form of the chunked kernel (selective_scan_chunk_local): all chunks of a few channels in one
 * workgroup, the combine as a scan over chunks in workgroup memory. Each case checks that the plan really takes that
 * path (stagesFor = ['local']) and compares with the CPU oracle and with the three passes (localMaxL = 0).
 */
describe('fused (chunked), one dispatch for short L vs CPU oracle', () => {
  // [L, D, N, options]: chunk counts 2..32 (non-power-of-2, last chunk partial), chunks shorter than a tile, odd D
  // (dead channels in the last workgroup), N not a multiple of 4, N = 64 (fewer chunks so the states fit), 1 and 3
  // channels per workgroup.
  const cases: [number, number, number, Partial<ScanOptions>][] = [
    [512, 40, 16, {}],
    [131, 45, 13, { localThreads: 45 * 5 }],
    [100, 37, 5, { localChannels: 3 }],
    [33, 48, 16, { localThreads: 48 * 3, localChannels: 1 }],
    [1024, 24, 16, { localThreads: 24 * 7 }],
    [300, 8, 64, {}],
    [777, 20, 16, { localTile: 8, localThreads: 20 * 6 }],
  ];
  for (const [L, D, N, o0] of cases) {
    // localMaxL given: the path is opt-in (default 0).
    const o: Partial<ScanOptions> = { localMaxL: 1024, ...o0 };
    it(`L=${L} D=${D} N=${N} ${JSON.stringify(o0)}: strided views, gate, equals the three passes`, async () => {
      const ctx = await gpu();
      const p = makeProblem(L, D, N, L * 3 + D + N, true);
      const g = upload(ctx, p);
      const ref = reference(p);
      const scan = new SelectiveScan(ctx, { D, N, ...o });
      const plan = scan.localPlan(L);
      if (typeof plan === 'string') throw new Error(plan);
      expect(scan.stagesFor(L)).toEqual(['local']);
      expect(plan.nc).toBeGreaterThanOrEqual(2);
      expect(plan.nc).toBeLessThanOrEqual(plan.nch);
      scan.destroy();
      const one = await runScan(ctx, p, g, { variant: 'fused', yOff: 3, yStride: D + 2, scanOpts: o });
      expect(relErr(one.y, ref.y), 'one dispatch y').toBeLessThan(TOL);
      expect(relErr(one.h, ref.hL), 'one dispatch hL').toBeLessThan(TOL);
      const three = await runScan(ctx, p, g, { variant: 'fused', scanOpts: { ...o, localMaxL: 0 } });
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
      for (const o of [{ localMaxL: 1024 }, { localMaxL: 1024, localThreads: 36 * 3 }] as Partial<ScanOptions>[]) {
        const tag = `${JSON.stringify(o)} gate=${gate}`;
        const h0 = ctx.upload(p.h0, 'ssm-state');
        const sep = await runScan(ctx, p, g, { variant: 'fused', gate, h0, scanOpts: o });
        expect(relErr(sep.y, ref.y), `${tag} y (separate h0)`).toBeLessThan(TOL);
        expect(relErr(sep.h, ref.hL), `${tag} hL (separate h0)`).toBeLessThan(TOL);
        expect(await ctx.readF32(h0, p.D * p.N)).toEqual(p.h0);
        const inPlace = await runScan(ctx, p, g, { variant: 'fused', gate, h0, hFinal: h0, scanOpts: o });
        expect(relErr(inPlace.y, ref.y), `${tag} y (in place)`).toBeLessThan(TOL);
        expect(relErr(inPlace.h, ref.hL), `${tag} hL (in place)`).toBeLessThan(TOL);
        ctx.pool.release(h0);
      }
    }
    g.release();
  });

  it('takes the one-dispatch path only for short L without a fixed chunk; the plan fits the limits', async () => {
    const ctx = await gpu();
    // the default: off (the three passes were faster on the H200 at 512 and 2k)
    const auto = new SelectiveScan(ctx, { D: 1536, N: 16 });
    expect(auto.stagesFor(512)).toEqual(['state', 'combine', 'out']);
    auto.destroy();
    const scan = new SelectiveScan(ctx, { D: 1536, N: 16, localMaxL: LOCAL_MAX_L_DESIGN });
    expect(scan.stagesFor(512)).toEqual(['local']);
    expect(scan.stagesFor(1024)).toEqual(['local']);
    expect(scan.stagesFor(2048)).toEqual(['state', 'combine', 'out']);
    expect(scan.stagesFor(20)).toEqual(['out']);
    scan.destroy();
    const fixed = new SelectiveScan(ctx, { D: 1536, N: 16, chunk: 32 });
    expect(fixed.stagesFor(512)).toEqual(['state', 'combine', 'out']);
    fixed.destroy();
    const off = new SelectiveScan(ctx, { D: 1536, N: 16, localMaxL: 0 });
    expect(off.stagesFor(512)).toEqual(['state', 'combine', 'out']);
    off.destroy();
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
describe('one-pass fused scan (subgroups) vs CPU oracle', () => {
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
    if (!ctx.has('subgroups')) return; // fused = chunked there, covered above
    for (const [L, D, N, names] of shapes) {
      const p = makeProblem(L, D, N, L * 13 + D + N, true);
      const g = upload(ctx, p);
      const ref = reference(p);
      for (const [name, cfg] of configs.filter((c) => names.includes(c[0]))) {
        const out = await runScan(ctx, p, g, { variant: 'fused', yOff: 5, yStride: D + 3, scanOpts: { fused: 'onepass', onepass: { ...cfg, assertFast: true } } });
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
        const sep = await runScan(ctx, p, g, { variant: 'fused', gate, h0, scanOpts: { fused: 'onepass', onepass: cfg } });
        expect(relErr(sep.y, ref.y), `${tag} y (separate h0)`).toBeLessThan(TOL);
        expect(relErr(sep.h, ref.hL), `${tag} hL (separate h0)`).toBeLessThan(TOL);
        expect(await ctx.readF32(h0, p.D * p.N)).toEqual(p.h0);
        const inPlace = await runScan(ctx, p, g, { variant: 'fused', gate, h0, hFinal: h0, scanOpts: { fused: 'onepass', onepass: cfg } });
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

describe('ssm_step (decode) equals the scan one token at a time', () => {
  for (const [L, D, N] of [[9, 48, 16], [5, 40, 8]] as const) {
    it(`prefill L−1 then one step == prefill L (L=${L} D=${D} N=${N})`, async () => {
      const ctx = await gpu();
      const p = makeProblem(L, D, N, 77 + N);
      const g = upload(ctx, p);
      const full = reference(p);
      // GPU prefill of L−1 tokens (fused, in place into the state buffer), then one GPU step for token L−1.
      const state = ctx.upload(new Float32Array(D * N), 'ssm-state');
      const pre = { ...p, L: L - 1 };
      const out1 = await runScan(ctx, pre, g, { variant: 'fused', hFinal: state, scanOpts: { chunk: 32 } });
      const ref1 = reference(p, { Lend: L - 1 });
      expect(relErr(out1.y, ref1.y)).toBeLessThan(TOL);
      const y = poisoned(ctx, D + 3);
      const step = new SsmStep(ctx, { D, N });
      const t = L - 1;
      await ctx.checked('step', () =>
        ctx.run((pass) =>
          step.encode(pass, {
            x: { buffer: g.u, offset: p.uOff + t * p.uStride },
            delta: { buffer: g.delta, offset: t * D },
            B: { buffer: g.xproj, offset: t * (p.R + 2 * N) + p.R },
            C: { buffer: g.xproj, offset: t * (p.R + 2 * N) + p.R + N },
            z: { buffer: g.inproj, offset: t * 2 * D + D },
            params: g.params,
            state,
            y: { buffer: y, offset: 3 },
          }),
        ),
      );
      const yStep = await ctx.readF32(y, D, 3);
      const hStep = await ctx.readF32(state, D * N);
      expect(relErr(yStep, full.y.subarray(t * D, (t + 1) * D))).toBeLessThan(TOL);
      expect(relErr(hStep, full.hL)).toBeLessThan(TOL);
      // And the step alone, from a nonzero state, against the oracle.
      const h0 = p.h0.slice();
      ctx.device.queue.writeBuffer(state, 0, h0);
      ctx.run((pass) =>
        step.encode(pass, {
          x: { buffer: g.u, offset: p.uOff },
          delta: { buffer: g.delta, offset: 0 },
          B: { buffer: g.xproj, offset: p.R },
          C: { buffer: g.xproj, offset: p.R + N },
          z: null,
          params: g.params,
          state,
          y: { buffer: y, offset: 0 },
        }),
      );
      const ref0 = reference(p, { Lend: 1, h0, gate: false });
      expect(relErr(await ctx.readF32(y, D), ref0.y)).toBeLessThan(TOL);
      expect(relErr(await ctx.readF32(state, D * N), ref0.hL)).toBeLessThan(TOL);
      step.destroy();
      [state, y].forEach((b) => ctx.pool.release(b));
      g.release();
    });
  }
});

describe('bench input fill (GPU random, used by the scan benches)', () => {
  it('writes every element, ~N(offset, scale²), deterministic per seed, also on a 2-D grid', async () => {
    const ctx = await gpu();
    const n = 300_001;
    // maxDim 7: 1172 workgroups become a 7 × 168 grid with a grid-stride loop.
    for (const fill of [new GpuFiller(ctx), new GpuFiller(ctx, 7)]) {
      const a = poisoned(ctx, n);
      const b = poisoned(ctx, n);
      const c = poisoned(ctx, n);
      fill.fill(a, n, 5, 2, 1);
      fill.fill(b, n, 5, 2, 1);
      fill.fill(c, n, 6, 2, 1);
      const [x, y, z] = await Promise.all([ctx.readF32(a, n), ctx.readF32(b, n), ctx.readF32(c, n)]);
      expect(x.every(Number.isFinite)).toBe(true);
      expect(y).toEqual(x);
      expect(relErr(z, x)).toBeGreaterThan(0.5);
      let mean = 0;
      for (const v of x) mean += v / n;
      let vari = 0;
      for (const v of x) vari += (v - mean) ** 2 / n;
      expect(Math.abs(mean - 1)).toBeLessThan(0.02);
      expect(Math.abs(Math.sqrt(vari) - 2)).toBeLessThan(0.05);
      // No two neighbours equal (every index hashed) and the last element written.
      let same = 0;
      for (let i = 1; i < n; i++) if (x[i] === x[i - 1]) same++;
      expect(same).toBeLessThan(5);
      [a, b, c].forEach((buf) => ctx.pool.release(buf));
    }
  });
});
