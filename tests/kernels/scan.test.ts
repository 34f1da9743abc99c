import { describe, expect, it } from 'vitest';
import { SelectiveScan, SCAN_VARIANTS, type ScanVariant } from '../../src/kernels/scan';
import { SsmStep } from '../../src/kernels/ssm_step';
import { packSsmParams, SsmParamsPacker, ssmParamsLength } from '../../src/kernels/ssm_params';
import { GpuFiller } from '../../src/bench/fill';
import { gpu, makeProblem, poisoned, reference, relErr, runScan, TOL, upload } from './scan-problem';

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
      const runs = variants.map((v) => [v] as const);
      for (const [name] of runs) {
        const out = await runScan(ctx, p, g, { variant: name, yOff: 2, yStride: D + 1 });
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

  it('records the passes each variant needs: three for several chunks, one for one chunk, three per unfused segment', async () => {
    const ctx = await gpu();
    const p = makeProblem(300, 48, 16, 17);
    const g = upload(ctx, p);
    const y = ctx.buffer(300 * 48 * 4), h = ctx.buffer(48 * 16 * 4, 'ssm-state');
    const io = (L: number) => ({
      L, u: { buffer: g.u, offset: p.uOff, rowStride: p.uStride }, delta: { buffer: g.delta },
      B: { buffer: g.xproj, offset: p.R, rowStride: p.R + 32 }, C: { buffer: g.xproj, offset: p.R + 16, rowStride: p.R + 32 },
      params: g.params, y: { buffer: y }, hFinal: h,
    });
    const scan = new SelectiveScan(ctx, { D: 48, N: 16, unfusedMaxBytes: 48 * 16 * 4 * 128 });
    const stages = (L: number, v: ScanVariant) => scan.dispatches(io(L), v).map((d) => d.stage);
    expect(scan.chunkFor(300)).toBe(32); // 49152 threads / 48 channels = 1024 chunks wanted: the shortest chunk, 32
    expect(stages(300, 'fused')).toEqual(['state', 'combine', 'out']);
    expect(stages(32, 'fused')).toEqual(['out']);
    expect(stages(300, 'sequential')).toEqual(['out']);
    expect(stages(300, 'unfused')).toEqual(['discretize', 'scan', 'readout', 'discretize', 'scan', 'readout', 'discretize', 'scan', 'readout']);
    expect(new SelectiveScan(ctx, { D: 48, N: 16, chunk: 32 }).dispatches(io(300)).map((d) => d.grid)).toEqual([[1, 9], [3], [1, 10]]);
    scan.destroy();
    g.release();
    ctx.pool.release(y);
    ctx.pool.release(h);
  });

  it('fused (chunked): many chunks (L=1500, chunk 16 → 94 chunks, several combine batches), odd D, N=13', async () => {
    const ctx = await gpu();
    const p = makeProblem(1500, 37, 13, 21, true);
    const g = upload(ctx, p);
    const ref = reference(p, { init: true });
    const h0 = ctx.upload(p.h0, 'ssm-state');
    for (const chunk of [16, 32, 112]) {
      const out = await runScan(ctx, p, g, { variant: 'fused', h0, scanOpts: { chunk } });
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
      const out = await runScan(ctx, p, g, { variant: 'fused', gate: false, scanOpts: { chunk } });
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
      for (const variant of SCAN_VARIANTS) {
        const h0 = ctx.upload(p.h0, 'ssm-state');
        const sep = await runScan(ctx, p, g, { variant, h0, scanOpts: { chunk, unfusedMaxBytes: 48 * 8 * 4 * 50 } });
        expect(relErr(sep.y, ref.y), `${variant} L=${L} y (separate h0)`).toBeLessThan(TOL);
        expect(relErr(sep.h, ref.hL), `${variant} L=${L} hL (separate h0)`).toBeLessThan(TOL);
        expect(await ctx.readF32(h0, p.D * p.N)).toEqual(p.h0); // h0 untouched
        const inPlace = await runScan(ctx, p, g, { variant, h0, hFinal: h0, scanOpts: { chunk, unfusedMaxBytes: 48 * 8 * 4 * 50 } });
        expect(relErr(inPlace.y, ref.y), `${variant} L=${L} y (in place)`).toBeLessThan(TOL);
        expect(relErr(inPlace.h, ref.hL), `${variant} L=${L} hL (in place)`).toBeLessThan(TOL);
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
