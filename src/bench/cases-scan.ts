/**
 * Benchmark cases for the Mamba kernels: the selective scan prefill in its three variants (fused: the chunked
 * three-pass kernel; unfused; sequential) at each L, with the kernel lab's fused forms beside it (./lab/scan-lab.ts:
 * the one-pass subgroup kernel as scan/fused-onepass, the one-dispatch short-L kernel as scan/fused-local*), the
 * ssm_step decode kernel, and the causal conv1d prefill and step.
 *
 * Inputs are laid out the way the model has them (z inside an in_proj-like [L, 2D] buffer, B and C inside an
 * x_proj-like [L, R+2N] buffer with R = ceil(D/32) like Mamba's dt_rank = ceil(d_model/16)), with magnitudes like the
 * tests' (Δ = softplus(delta + bias) mostly in 0.001..0.1, A = −(1..N)). The large prefill inputs are generated on the
 * GPU (./fill.ts); the small decode-step inputs on the CPU.
 *
 * Byte counts are the minimum any implementation must move (same for all variants, so GB/s compares directly):
 * read u, delta, z [L, D], B, C [L, N] and the packed params once, write y [L, D] and the final state [D, N] once.
 * The unfused variant's [L, D, N] round trips are its own cost and are not credited. Flops count, per (t, d, n),
 * Δ·A, exp, the state FMA (2), Δu·B and the C·h FMA (2) = 7 (exp counted as one), plus ~20 per (t, d) for
 * softplus, D·u, SiLU and the gate.
 */
import type { BenchCase } from './harness';
import type { GpuContext } from '../gpu/context';
import { SelectiveScan, SCAN_VARIANTS, type ScanIO, type ScanOptions, type ScanVariant } from '../kernels/scan';
import { SsmStep } from '../kernels/ssm_step';
import { CausalConv1d } from '../kernels/conv1d';
import { packSsmParams, ssmParamsLength } from '../kernels/ssm_params';
import { GpuFiller } from './fill';
import { LocalScan, OnePassScan, type LocalScanOptions, type ScanRunner } from './lab/scan-lab';

/** Deterministic pseudo-normal values (sum of uniforms), scaled. */
function randn(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() + next() + next() + next() - 2) * 1.732 * scale;
  return out;
}

/** Packed SSM params like mamba's init: A = −(1..N), Dskip = 1, Δ bias = softplus⁻¹(dt), dt log-uniform in [1e-3, 1e-1]. */
export function ssmParams(D: number, N: number): Float32Array {
  const aLog = new Float32Array(D * N);
  for (let d = 0; d < D; d++) for (let n = 0; n < N; n++) aLog[d * N + n] = Math.log(n + 1);
  const Dskip = new Float32Array(D).fill(1);
  const bias = new Float32Array(D);
  for (let d = 0; d < D; d++) {
    const dt = Math.exp(Math.log(1e-3) + ((d * 0.618034) % 1) * Math.log(100));
    bias[d] = dt + Math.log(-Math.expm1(-dt));
  }
  return packSsmParams(aLog, Dskip, bias, D, N);
}

function scanBytes(L: number, D: number, N: number): number {
  return 4 * (L * (3 * D + 2 * N) + L * D + D * N + ssmParamsLength(D, N));
}

function scanFlops(L: number, D: number, N: number): number {
  return L * D * (7 * N + 20);
}

/** Scan inputs laid out as the model has them, filled on the GPU (no multi-second CPU gap, GPU idle and clocks dropping,
 * before timed calls): z inside an in_proj-like [L, 2D] buffer, B and C inside an x_proj-like [L, R+2N] buffer. */
export function scanInputs(ctx: GpuContext, L: number, D: number, N: number, fill = new GpuFiller(ctx)): { io: ScanIO; y: GPUBuffer; h: GPUBuffer; release(): void } {
  const R = Math.ceil(D / 32);
  const W = R + 2 * N;
  const bufs = [
    fill.buffer(L * 2 * D, 1, 1, 'bench-xz'),
    fill.buffer(L * W, 2, 1, 'bench-dbc'),
    fill.buffer(L * D, 3, 1, 'bench-u'),
    fill.buffer(L * D, 4, 0.5, 'bench-delta'),
    ctx.upload(ssmParams(D, N), 'weights', 'bench-ssm-params'),
    ctx.buffer(L * D * 4, 'activations', 'bench-y'),
    ctx.buffer(D * N * 4, 'ssm-state', 'bench-h'),
  ];
  const [xz, dbc, u, delta, params, y, h] = bufs;
  const io: ScanIO = {
    L,
    u: { buffer: u },
    delta: { buffer: delta },
    B: { buffer: dbc, offset: R, rowStride: W },
    C: { buffer: dbc, offset: R + N, rowStride: W },
    z: { buffer: xz, offset: D, rowStride: 2 * D },
    params,
    y: { buffer: y },
    hFinal: h,
  };
  return { io, y, h, release: () => bufs.forEach((b) => ctx.pool.release(b)) };
}

function scanCase(kernel: string, L: number, D: number, N: number, make: (ctx: GpuContext) => ScanRunner): BenchCase {
  return {
    kernel,
    shape: `L=${L} D=${D} N=${N}`,
    bytes: scanBytes(L, D, N),
    flops: scanFlops(L, D, N),
    tokens: L,
    setup(ctx: GpuContext) {
      const scan = make(ctx);
      const inp = scanInputs(ctx, L, D, N);
      return {
        encode: (pass: GPUComputePassEncoder) => scan.encode(pass, inp.io),
        cleanup: () => {
          scan.destroy();
          inp.release();
        },
      };
    },
  };
}

function stepCase(D: number, N: number): BenchCase {
  const R = Math.ceil(D / 32);
  const W = R + 2 * N;
  return {
    kernel: 'scan/step',
    shape: `L=1 D=${D} N=${N}`,
    // read x, delta, z [D], B, C [N], params; read and write the state [D, N]; write y [D]
    bytes: 4 * (3 * D + 2 * N + ssmParamsLength(D, N) + 2 * D * N + D),
    flops: scanFlops(1, D, N),
    tokens: 1,
    setup(ctx: GpuContext) {
      const bufs = [
        ctx.upload(randn(2 * D, 5), 'activations', 'bench-xz'),
        ctx.upload(randn(W, 6), 'activations', 'bench-dbc'),
        ctx.upload(randn(D, 7), 'activations', 'bench-u'),
        ctx.upload(randn(D, 8, 0.5), 'activations', 'bench-delta'),
        ctx.upload(ssmParams(D, N), 'weights', 'bench-ssm-params'),
        ctx.buffer(D * 4, 'activations', 'bench-y'),
        ctx.upload(new Float32Array(D * N), 'ssm-state', 'bench-h'),
      ];
      const [xz, dbc, u, delta, params, y, state] = bufs;
      const step = new SsmStep(ctx, { D, N });
      const io = {
        x: { buffer: u },
        delta: { buffer: delta },
        B: { buffer: dbc, offset: R },
        C: { buffer: dbc, offset: R + N },
        z: { buffer: xz, offset: D },
        params,
        state,
        y: { buffer: y },
      };
      return {
        encode: (pass: GPUComputePassEncoder) => step.encode(pass, io),
        cleanup: () => {
          step.destroy();
          for (const b of bufs) ctx.pool.release(b);
        },
      };
    },
  };
}

/** Fused / unfused / sequential scan prefill at each L, plus the decode step. */
export function scanBenchCases(opts: {
  L: number[];
  D: number;
  N: number;
  variants?: readonly ScanVariant[];
  /** Extra SelectiveScan options (chunk, targetThreads, workgroup...) for tuning runs, and a tag for the kernel name. */
  options?: Partial<ScanOptions>;
  tag?: string;
  /** Include the decode step case (default true). */
  step?: boolean;
  /** Also time the lab's one-pass subgroup kernel (scan/fused-onepass; default true; skipped without subgroups). */
  fusedOnePass?: boolean;
  /** At L ≤ 2048 also time the lab's one-dispatch short-L kernel (scan/fused-local, and scan/fused-local98k,
   *  scan/fused-local-tt8, scan/fused-local-cw4); default true, only without options. */
  shortForms?: boolean;
}): BenchCase[] {
  const cases: BenchCase[] = [];
  const { D, N } = opts;
  const local = (tag: string, o: LocalScanOptions) => (L: number) => scanCase(`scan/fused-local${tag}`, L, D, N, (ctx) => new LocalScan(ctx, D, N, o));
  for (const L of opts.L) {
    for (const v of opts.variants ?? SCAN_VARIANTS) {
      cases.push(scanCase(`scan/${v}${opts.tag ?? ''}`, L, D, N, (ctx) => new SelectiveScan(ctx, { ...opts.options, D, N, variant: v })));
      if (v !== 'fused' || opts.options) continue;
      // The lab's fused forms beside the default, in the same run.
      if (opts.fusedOnePass ?? true) cases.push(scanCase('scan/fused-onepass', L, D, N, (ctx) => new OnePassScan(ctx, D, N)));
      // Short L: the one-dispatch kernel, also at ~98k threads (chunks half as long, 512-thread workgroups where the
      // device allows), with 8-token tiles (where the workgroup memory allows), and with 4 channels per workgroup
      // (twice the workgroups: better balance over the SMs, 16-byte row segments).
      if ((opts.shortForms ?? true) && L <= 2048) {
        cases.push(local('', {})(L), local('98k', { threads: 98304 })(L), local('-tt8', { tile: 8 })(L), local('-cw4', { channels: 4 })(L));
      }
    }
  }
  if (opts.step ?? true) cases.push(stepCase(opts.D, opts.N));
  return cases;
}

/** Causal conv1d (+bias, SiLU) prefill at each L (x strided inside [L, 2D], state written) and the decode step. */
export function conv1dBenchCases(opts: { L: number[]; D: number; K: number }): BenchCase[] {
  const { D, K } = opts;
  const make = (L: number): BenchCase => ({
    kernel: L === 0 ? 'conv1d/step' : 'conv1d/prefill',
    shape: `L=${Math.max(L, 1)} D=${D} K=${K}`,
    // read x [L, D], weight [D, K], bias [D], state [K−1, D]; write out [L, D] and the state
    bytes: 4 * (2 * Math.max(L, 1) * D + D * K + D + 2 * (K - 1) * D),
    flops: Math.max(L, 1) * D * (2 * K + 5),
    tokens: Math.max(L, 1),
    setup(ctx: GpuContext) {
      const rows = Math.max(L, 1);
      const bufs = [
        new GpuFiller(ctx).buffer(rows * 2 * D, 9, 1, 'bench-xz'),
        ctx.upload(randn(D * K, 10, 0.3), 'weights', 'bench-conv-w'),
        ctx.upload(randn(D, 11, 0.1), 'weights', 'bench-conv-b'),
        ctx.buffer(rows * D * 4, 'activations', 'bench-u'),
        ctx.upload(new Float32Array((K - 1) * D + 4), 'ssm-state', 'bench-conv-state'),
      ];
      const [xz, w, b, out, state] = bufs;
      const conv = new CausalConv1d(ctx, { D, K });
      const encode =
        L === 0
          ? (pass: GPUComputePassEncoder) => conv.encodeStep(pass, { x: { buffer: xz }, weight: w, bias: b, state, out: { buffer: out } })
          : (pass: GPUComputePassEncoder) =>
              conv.encode(pass, { L, x: { buffer: xz, rowStride: 2 * D }, weight: w, bias: b, out: { buffer: out }, state, initialState: true });
      return {
        encode,
        cleanup: () => {
          conv.destroy();
          for (const x of bufs) ctx.pool.release(x);
        },
      };
    },
  });
  return [...opts.L.map(make), make(0)];
}
