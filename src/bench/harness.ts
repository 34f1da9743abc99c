/**
 * The kernel benchmark harness (llm.c dev/cuda style): each kernel family contributes cases; every case runs on
 * the same inputs its test checks against the CPU oracle, is timed with timeGpu(), and reports bytes moved and
 * flops so the table can show GB/s, GFLOP/s and the ratio to a vec4 copy kernel measured in the same run.
 */
import type { GpuContext } from '../gpu/context';
import { timeGpu, type TimeOptions } from '../gpu/timing';

export interface BenchCase {
  /** Kernel family and variant, e.g. "scan/fused". */
  kernel: string;
  /** Shape, e.g. "L=2048 D=1536 N=16". */
  shape: string;
  /** Fewest bytes the computation must move (each input read once, each output written once). */
  bytes: number;
  /** Floating-point operations (0 when bandwidth is the figure of merit). */
  flops: number;
  /** Tokens processed per call (for Mtok/s), optional. */
  tokens?: number;
  /** Allocate inputs; returns the encode function and a cleanup. Throwing a LimitExceededError skips the case. */
  setup(ctx: GpuContext): { encode: (pass: GPUComputePassEncoder) => void; cleanup: () => void };
}

export interface BenchResult {
  kernel: string;
  shape: string;
  ms: number;
  method: string;
  gbps: number;
  gflops: number;
  mtoks: number | null;
  /** GB/s divided by the copy kernel's GB/s in this run. */
  vsCopy: number;
  skipped?: string;
}

export async function runCases(ctx: GpuContext, cases: BenchCase[], copyGbps: number, opts: TimeOptions = {}, log?: (r: BenchResult) => void): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const c of cases) {
    let r: BenchResult;
    try {
      const { encode, cleanup } = c.setup(ctx);
      try {
        const t = await timeGpu(ctx, encode, opts);
        const s = t.ms / 1e3;
        const gbps = c.bytes / s / 1e9;
        r = {
          kernel: c.kernel,
          shape: c.shape,
          ms: t.ms,
          method: t.method,
          gbps,
          gflops: c.flops / s / 1e9,
          mtoks: c.tokens ? c.tokens / s / 1e6 : null,
          vsCopy: gbps / copyGbps,
        };
      } finally {
        cleanup();
      }
    } catch (e) {
      r = { kernel: c.kernel, shape: c.shape, ms: NaN, method: '-', gbps: NaN, gflops: NaN, mtoks: null, vsCopy: NaN, skipped: (e as Error).message };
    }
    out.push(r);
    log?.(r);
  }
  return out;
}

export function formatRow(r: BenchResult): string {
  if (r.skipped) return `${r.kernel.padEnd(26)} ${r.shape.padEnd(28)} skipped: ${r.skipped}`;
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  return [
    r.kernel.padEnd(26),
    r.shape.padEnd(28),
    `${f(r.ms * 1000, 1).padStart(10)} us`,
    `${f(r.gbps).padStart(8)} GB/s`,
    `${f(r.gflops).padStart(9)} GFLOP/s`,
    r.mtoks !== null ? `${f(r.mtoks, 2).padStart(8)} Mtok/s` : ''.padStart(15),
    `${f(r.vsCopy, 3).padStart(7)}x copy`,
  ].join(' ');
}
