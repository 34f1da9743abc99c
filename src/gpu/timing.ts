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

/**
 * GPU time of whole compute passes (e.g. each submitted decode batch) from timestamp queries: writes() gives the
 * timestampWrites of the next pass, resolve(encoder) records its resolve after the pass, read() returns the
 * durations in ms of the passes so far (and starts over). Without timestamp-query every call is a no-op and read()
 * returns []. Dawn quantises timestamps unless started with `disable-dawn-features=timestamp_quantization`
 * (WEBGPU_DAWN_OPTIONS, see src/gpu/node.ts).
 */
export class PassTimer {
  private readonly querySet: GPUQuerySet | null;
  private readonly resolveBuf: GPUBuffer | null;
  private used = 0;
  private pending = -1;
  /** The label of each timed pass since the last read (writes(label)). */
  private labels: string[] = [];

  readonly capacity: number;

  constructor(private readonly ctx: GpuContext, capacity = 1024) {
    this.capacity = Math.min(capacity, 2048); // WebGPU caps a query set at 4096 queries
    const ok = ctx.has('timestamp-query');
    this.querySet = ok ? ctx.device.createQuerySet({ type: 'timestamp', count: 2 * this.capacity }) : null;
    this.resolveBuf = ok ? ctx.device.createBuffer({ size: 256 * this.capacity, usage: 0x200 | 0x04, label: 'pass-timer' }) : null; // QUERY_RESOLVE | COPY_SRC
  }

  get available(): boolean {
    return this.querySet !== null;
  }

  /** Timestamp writes for the next pass (undefined when unavailable or full), tagged `label` for readLabelled(). */
  writes(label = ''): GPUComputePassTimestampWrites | undefined {
    if (!this.querySet || this.used >= this.capacity) return undefined;
    this.pending = this.used++;
    this.labels[this.pending] = label;
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * this.pending, endOfPassWriteIndex: 2 * this.pending + 1 };
  }

  /** Records the resolve of the pass that took the last writes(); call after that pass ended. */
  resolve(encoder: GPUCommandEncoder): void {
    if (!this.querySet || this.pending < 0) return;
    encoder.resolveQuerySet(this.querySet, 2 * this.pending, 2, this.resolveBuf!, 256 * this.pending);
    this.pending = -1;
  }

  /** Durations (ms) of the timed passes since the last read, in order. */
  async read(): Promise<number[]> {
    return (await this.readLabelled()).map((p) => p.ms);
  }

  /** Durations (ms) of the timed passes since the last read, in order, each with the label its writes() got. */
  async readLabelled(): Promise<{ label: string; ms: number }[]> {
    if (!this.resolveBuf || this.used === 0) return [];
    const n = this.used;
    const labels = this.labels.slice(0, n);
    this.used = 0;
    this.labels = [];
    const raw = new BigUint64Array(await this.ctx.read(this.resolveBuf, 256 * n));
    const out: { label: string; ms: number }[] = [];
    for (let i = 0; i < n; i++) out.push({ label: labels[i], ms: Number(raw[32 * i + 1] - raw[32 * i]) / 1e6 });
    return out;
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuf?.destroy();
  }
}
