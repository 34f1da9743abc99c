/**
 * Calibration: what this adapter does per second, measured in a few hundred milliseconds when the device starts, so
 * every measurement can be set against its floors (src/roofline/):
 *   copy bandwidth  — the vec4 copy kernel (shaders/copy_vec4.wgsl) over a large buffer: bytes read + written per s;
 *   dispatch cost   — a chain of tiny dispatches in one pass, each reading what the previous one wrote (recorded and
 *                     replayed like a decode step): (time of K dispatches − time of 1) / (K − 1);
 *   FMA throughput  — our matmul kernel (shaders/matmul.wgsl, f32 weights) on a fixed square shape: 2·M·N·K / s;
 *   timestamps      — whether timestamp-query is there and how coarse it is (browsers and Dawn may round timestamps,
 *                     e.g. to 100 µs): the greatest common divisor of many raw timestamps' distances.
 * Each figure is timed with timestamps when they are available and fine enough for it (the timed pass is ≥ 50× the
 * rounding), else with the wall clock over passes submitted together. Runs in Node (Dawn) and in the worker.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, DispatchList } from '../gpu/kernel';
import { MatmulKernel, type LinearWeights } from '../kernels/matmul';

export interface Calibration {
  /** The vec4 copy kernel's bandwidth, bytes read + bytes written, in GB/s (1e9 bytes/s). */
  copyGBps: number;
  /** GPU time of one dependent dispatch in a pass, µs. */
  dispatchUs: number;
  /** f32 FMA throughput of our matmul kernel, GFLOP/s (1e9 floating-point operations/s; an FMA counts 2). */
  matmulGflops: number;
  timestamps: {
    /** timestamp-query is on the device. */
    available: boolean;
    /** Their rounding in µs (null: unavailable, or no two timestamps differed). */
    quantumUs: number | null;
  };
  /** How each figure was timed: 'gpu' (timestamps) or 'wall' (wall clock over submitted passes). */
  timing: { copy: 'gpu' | 'wall'; dispatch: 'gpu' | 'wall'; matmul: 'gpu' | 'wall' };
  /** What was run: copy buffer bytes, dispatches in the chain, matmul M = N = K. */
  shapes: { copyBytes: number; chain: number; matmul: number };
  /** Wall time the calibration took, ms. */
  ms: number;
}

export interface CalibrateOptions {
  /** Force wall-clock timing (tests exercise the path a device without timestamps takes). */
  wallClock?: boolean;
  /** Smaller shapes (tests on a software adapter). */
  small?: boolean;
}

const now = () => (globalThis.performance ?? Date).now();
const STORAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST
const UNIFORM = 0x40 | 0x08; // UNIFORM | COPY_DST

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

type Encode = (pass: GPUComputePassEncoder) => void;

class Timer {
  /** Timestamp rounding in ms (0 when finer than a nanosecond's worth of anything), null without timestamps. */
  quantumMs: number | null = null;
  constructor(private readonly ctx: GpuContext, private readonly useTimestamps: boolean) {}

  get timestamps(): boolean {
    return this.useTimestamps;
  }

  /** Raw begin/end timestamps (ns) of `n` passes of `encode`. */
  async raw(encode: Encode, n: number): Promise<number[]> {
    const { device } = this.ctx;
    const qs = device.createQuerySet({ type: 'timestamp', count: 2 * n });
    const buf = device.createBuffer({ size: 16 * n, usage: 0x200 | 0x04 }); // QUERY_RESOLVE | COPY_SRC
    try {
      const enc = device.createCommandEncoder({ label: 'calibrate' });
      for (let i = 0; i < n; i++) {
        const pass = enc.beginComputePass({ label: 'calibrate', timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
        encode(pass);
        pass.end();
      }
      enc.resolveQuerySet(qs, 0, 2 * n, buf, 0);
      this.ctx.submit(enc);
      const t = new BigUint64Array(await this.ctx.read(buf, 16 * n));
      const t0 = t[0];
      // distances from the first timestamp (ns; small enough for a double)
      return Array.from(t, (v) => Number(v - t0));
    } finally {
      qs.destroy();
      buf.destroy();
    }
  }

  /** Milliseconds per pass of `encode` (median over `samples` passes) and how it was timed ('gpu' when the
   *  timestamps are fine enough for it, or when `how` asks for them). */
  async time(encode: Encode, samples: number, how?: 'gpu' | 'wall'): Promise<{ ms: number; timing: 'gpu' | 'wall' }> {
    this.ctx.run(encode, 'calibrate-warmup');
    await this.ctx.finish();
    if (this.useTimestamps && how !== 'wall') {
      const r = await this.raw(encode, samples);
      const ms = median(Array.from({ length: samples }, (_, i) => (r[2 * i + 1] - r[2 * i]) / 1e6));
      // trust it when the pass is long against the rounding (a 100 µs rounding on a 1 ms pass is ±10%)
      if (how === 'gpu' || (ms > 0 && (this.quantumMs === null || ms >= 50 * this.quantumMs))) return { ms, timing: 'gpu' };
    }
    const t0 = now();
    for (let i = 0; i < samples; i++) this.ctx.run(encode, 'calibrate');
    await this.ctx.finish();
    return { ms: (now() - t0) / samples, timing: 'wall' };
  }
}

/** Repetitions of a unit of work such that one pass takes about `targetMs` (from one wall-clock pass of it). */
async function repsFor(ctx: GpuContext, unit: Encode, targetMs: number, max: number): Promise<number> {
  ctx.run(unit, 'calibrate-probe');
  await ctx.finish();
  const t0 = now();
  ctx.run(unit, 'calibrate-probe');
  await ctx.finish();
  const ms = now() - t0;
  return Math.max(1, Math.min(max, Math.ceil(targetMs / Math.max(ms, 1e-3))));
}

/**
 * The timestamps' rounding: the gcd of the distances between raw timestamps of many short passes. Exact timestamps
 * give a gcd of a few ns; rounded ones a multiple of the rounding (with enough samples, the rounding itself).
 */
async function timestampQuantum(t: Timer, encode: Encode): Promise<number | null> {
  const raw = await t.raw(encode, 32);
  let g = 0;
  for (const v of raw) if (v !== 0) g = gcd(g, Math.round(Math.abs(v)));
  return g > 0 ? g / 1e6 : null;
}

/** Measures copy bandwidth, dispatch cost, matmul throughput and timestamp rounding on ctx's device. */
export async function calibrate(ctx: GpuContext, opts: CalibrateOptions = {}): Promise<Calibration> {
  const t0 = now();
  const small = opts.small ?? ctx.cpuAdapter;
  const { device } = ctx;
  const available = ctx.has('timestamp-query');
  const timer = new Timer(ctx, available && !opts.wallClock);
  const owned: GPUBuffer[] = [];
  const buffer = (bytes: number, usage = STORAGE) => {
    const b = device.createBuffer({ size: bytes, usage, label: 'calibrate' });
    owned.push(b);
    return b;
  };
  try {
    // One kernel for the copy and the dispatch chain: copy_vec4 (params: n4, grid stride), bind groups made once.
    const copy = new ComputeKernel(ctx, 'copy_vec4');
    const uniform = (n4: number, stride: number) => {
      const u = buffer(16, UNIFORM);
      device.queue.writeBuffer(u, 0, copy.uniforms({ n4, stride }));
      return { buffer: u, offset: 0, size: 16 };
    };

    // timestamps: rounding, from passes of one tiny dispatch
    const a = buffer(16), b = buffer(16);
    const uTiny = uniform(1, 256);
    const ab = copy.bindGroup(uTiny, [a, b]), ba = copy.bindGroup(uTiny, [b, a]);
    const tiny: Encode = (pass) => {
      pass.setPipeline(copy.pipeline);
      pass.setBindGroup(0, ab);
      pass.dispatchWorkgroups(1);
    };
    let quantumUs: number | null = null;
    if (available) {
      const q = await timestampQuantum(timer, tiny);
      timer.quantumMs = q;
      quantumUs = q === null ? null : q * 1e3;
    }

    // Each timed pass runs its unit of work `reps` times, enough for ~`target` ms: long against the timestamps'
    // rounding (50×, so that it costs at most 2%) and against a submit's fixed cost on the wall clock.
    const target = small ? 4 : Math.min(10, Math.max(2, 50 * (timer.quantumMs ?? 0)));
    const samples = small ? 3 : 7;

    // dispatch cost: K dependent dispatches (a → b, b → a, ...) in one pass, recorded once and replayed reps times
    const K = small ? 32 : 256;
    const chain = new DispatchList();
    for (let i = 0; i < K; i++) chain.add(copy, i % 2 ? ba : ab, [1]);
    const one = new DispatchList();
    one.add(copy, ab, [1]);
    const chainReps = await repsFor(ctx, (pass) => chain.replay(pass, 0), target, small ? 4 : 64);
    const tK = await timer.time((pass) => { for (let r = 0; r < chainReps; r++) chain.replay(pass, 0); }, samples);
    const t1 = await timer.time((pass) => one.replay(pass, 0), samples, tK.timing);
    const dispatches = K * chainReps;
    const dispatchUs = (Math.max(tK.ms - t1.ms, tK.ms / (2 * dispatches)) / (dispatches - 1)) * 1e3;

    // copy bandwidth: n floats src → dst, repeated to fill the pass
    const maxFloats = Math.floor(Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize) / 16) * 4;
    const n = Math.min(small ? 1 << 18 : 1 << 24, maxFloats);
    const src = buffer(n * 4), dst = buffer(n * 4);
    const n4 = n / 4, groups = Math.ceil(n4 / 256);
    const gx = Math.min(groups, 4096), gy = Math.ceil(groups / gx);
    const cg = copy.bindGroup(uniform(n4, gx * gy * 256), [src, dst]);
    const copyOnce: Encode = (pass) => {
      pass.setPipeline(copy.pipeline);
      pass.setBindGroup(0, cg);
      pass.dispatchWorkgroups(gx, gy);
    };
    const copyReps = await repsFor(ctx, copyOnce, target, 64);
    const tc = await timer.time((pass) => { for (let i = 0; i < copyReps; i++) copyOnce(pass); }, samples);
    const copyGBps = (8 * n * copyReps) / (tc.ms / 1e3) / 1e9;

    // matmul: Y[S, S] = X[S, S] · W[S, S]ᵀ with f32 weights (zeros: the time does not depend on the values)
    const S = small ? 128 : 2048;
    const mm = new MatmulKernel(ctx);
    const X = buffer(S * S * 4), Wb = buffer(S * S * 4), Y = buffer(S * S * 4);
    const W: LinearWeights = { dtype: 'f32', rows: S, cols: S, blocks: [{ buffer: Wb, rows: S }], bias: null };
    const mmOnce: Encode = (pass) => mm.encode(pass, X, W, Y, S);
    const mmReps = await repsFor(ctx, mmOnce, target, 32);
    const tm = await timer.time((pass) => { for (let i = 0; i < mmReps; i++) mmOnce(pass); }, samples);
    const matmulGflops = (2 * S * S * S * mmReps) / (tm.ms / 1e3) / 1e9;

    return {
      copyGBps, dispatchUs, matmulGflops,
      timestamps: { available, quantumUs },
      timing: { copy: tc.timing, dispatch: tK.timing, matmul: tm.timing },
      shapes: { copyBytes: n * 4, chain: dispatches, matmul: S },
      ms: now() - t0,
    };
  } finally {
    await ctx.finish();
    for (const b of owned) b.destroy();
  }
}

const pending = new WeakMap<GpuContext, Promise<Calibration>>();
const done = new WeakMap<GpuContext, Calibration>();

/** The context's calibration, measured on the first call and kept (later calls share it). */
export function calibrated(ctx: GpuContext, opts?: CalibrateOptions): Promise<Calibration> {
  let p = pending.get(ctx);
  if (!p) {
    p = calibrate(ctx, opts).then((c) => {
      done.set(ctx, c);
      return c;
    });
    p.catch(() => pending.delete(ctx));
    pending.set(ctx, p);
  }
  return p;
}

/** The context's calibration if it has finished, else null. */
export function calibrationOf(ctx: GpuContext): Calibration | null {
  return done.get(ctx) ?? null;
}
