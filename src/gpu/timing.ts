/**
 * Kernel timing, one helper for every benchmark: GPU timestamps (timestamp-query, written at the start and end of a
 * compute pass) when the device has them, else wall clock over many runs submitted together and awaited once.
 * Each sample is one call of `encode`; the result is the median over `iters` samples.
 */
import type { GpuContext } from './context';

export interface Timing {
  /** Median time of one call of `encode`, in milliseconds. */
  ms: number;
  /** All samples in ms (one per iteration for timestamps; one batch average for wall clock). */
  samples: number[];
  method: 'timestamp' | 'wall';
}

export interface TimeOptions {
  warmup?: number;
  iters?: number;
  /** Force wall-clock timing even when timestamp-query is present. */
  wallClock?: boolean;
}

const now = () => (globalThis.performance ?? Date).now();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function timeGpu(ctx: GpuContext, encode: (pass: GPUComputePassEncoder) => void, opts: TimeOptions = {}): Promise<Timing> {
  const warmup = opts.warmup ?? 3;
  const iters = opts.iters ?? 20;
  for (let i = 0; i < warmup; i++) ctx.run(encode, 'warmup');
  await ctx.finish();

  if (ctx.has('timestamp-query') && !opts.wallClock) {
    const samples = await timestampSamples(ctx, encode, iters);
    // Some browsers quantise timestamps (to 100 us); samples that are all multiples of that are useless for short
    // kernels, so fall back to wall clock when they are.
    const quantised = samples.every((s) => Math.abs(s * 1e4 - Math.round(s * 1e4)) < 1e-6) && samples.some((s) => s === 0);
    if (!quantised) return { ms: median(samples), samples, method: 'timestamp' };
  }
  // Wall clock: several batches of `iters` calls each, submitted per call, awaited once per batch.
  const batches: number[] = [];
  for (let b = 0; b < 3; b++) {
    const t0 = now();
    for (let i = 0; i < iters; i++) ctx.run(encode, 'timed');
    await ctx.finish();
    batches.push((now() - t0) / iters);
  }
  return { ms: median(batches), samples: batches, method: 'wall' };
}

async function timestampSamples(ctx: GpuContext, encode: (pass: GPUComputePassEncoder) => void, iters: number): Promise<number[]> {
  const { device } = ctx;
  const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * iters });
  const resolve = device.createBuffer({ size: 16 * iters, usage: 0x200 | 0x04 }); // QUERY_RESOLVE | COPY_SRC
  try {
    for (let i = 0; i < iters; i++) {
      const enc = device.createCommandEncoder({ label: 'timed' });
      const pass = enc.beginComputePass({
        label: 'timed',
        timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
      });
      encode(pass);
      pass.end();
      if (i === iters - 1) enc.resolveQuerySet(querySet, 0, 2 * iters, resolve, 0);
      ctx.submit(enc);
    }
    const raw = new BigUint64Array(await ctx.read(resolve, 16 * iters));
    const out: number[] = [];
    for (let i = 0; i < iters; i++) out.push(Number(raw[2 * i + 1] - raw[2 * i]) / 1e6);
    return out;
  } finally {
    querySet.destroy();
    resolve.destroy();
  }
}

/** Wall-clock time of an async function (e.g. a whole model step that submits and reads back), median of `iters`. */
export async function timeWall(fn: () => Promise<void>, iters = 5, warmup = 1): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = now();
    await fn();
    samples.push(now() - t0);
  }
  return { ms: median(samples), samples, method: 'wall' };
}
