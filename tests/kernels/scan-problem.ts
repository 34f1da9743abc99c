/**
 * Selective scan test problems: realistic Mamba inputs, the CPU oracle's answer, and one GPU scan call read back.
 * Shared by the production scan tests (tests/kernels/scan.test.ts) and the kernel lab's (tests/bench/scan-lab.test.ts).
 */
import { gpu, rng, poisoned, relErr } from '../gpu';
import type { GpuContext } from '../../src/gpu/context';
import { SelectiveScan, type ScanIO, type ScanOptions, type ScanVariant } from '../../src/kernels/scan';
import { packSsmParams } from '../../src/kernels/ssm_params';
import { aFromALog, selectiveScanRef, type View } from '../../src/reference/scan';

export { gpu, poisoned, relErr };

export const TOL = 1e-4;

function gauss(r: () => number): number {
  const u1 = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * r());
}

/**
 * Realistic Mamba inputs laid out the way the model has them: z inside an in_proj-like [L, 2D] buffer (cols D..2D),
 * B and C inside an x_proj-like [L, R+2N] buffer (cols R.. and R+N..), u and delta in their own [L, D] buffers
 * (u optionally with a padded row stride), packed SSM params, optional initial state.
 */
export interface Problem {
  L: number; D: number; N: number; R: number;
  inproj: Float32Array; xproj: Float32Array; u: Float32Array; uOff: number; uStride: number; delta: Float32Array;
  aLog: Float32Array; Dskip: Float32Array; deltaBias: Float32Array; h0: Float32Array;
}

export function makeProblem(L: number, D: number, N: number, seed: number, padU = false): Problem {
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

export function reference(p: Problem, opts: { gate?: boolean; init?: boolean; Lend?: number; Lstart?: number; h0?: Float32Array } = {}) {
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

export interface Uploaded {
  inproj: GPUBuffer; xproj: GPUBuffer; u: GPUBuffer; delta: GPUBuffer; params: GPUBuffer;
  release(): void;
}

export function upload(ctx: GpuContext, p: Problem): Uploaded {
  const bufs = {
    inproj: ctx.upload(p.inproj),
    xproj: ctx.upload(p.xproj),
    u: ctx.upload(p.u),
    delta: ctx.upload(p.delta),
    params: ctx.upload(packSsmParams(p.aLog, p.Dskip, p.deltaBias, p.D, p.N), 'weights'),
  };
  return { ...bufs, release: () => Object.values(bufs).forEach((b) => ctx.pool.release(b)) };
}

/** A scan call: SelectiveScan with `variant` and `scanOpts`, or another implementation from `make` (the kernel lab). */
export interface RunOpts {
  variant?: ScanVariant; gate?: boolean; h0?: GPUBuffer | null; hFinal?: GPUBuffer; yOff?: number; yStride?: number; scanOpts?: Partial<ScanOptions>;
  make?: (ctx: GpuContext, D: number, N: number) => { encode(pass: GPUComputePassEncoder, io: ScanIO): void; destroy(): void };
}

export async function runScan(ctx: GpuContext, p: Problem, g: Uploaded, o: RunOpts) {
  const { L, D, N, R } = p;
  const yOff = o.yOff ?? 0;
  const yStride = o.yStride ?? D;
  const yBuf = poisoned(ctx, yOff + L * yStride);
  const hFinal = o.hFinal ?? poisoned(ctx, D * N, 'ssm-state');
  const scan = o.make ? o.make(ctx, D, N) : new SelectiveScan(ctx, { D, N, ...o.scanOpts, variant: o.variant ?? 'fused' });
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

