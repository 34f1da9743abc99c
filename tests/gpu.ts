/** Shared test helpers: a GpuContext per test file on a Dawn device shared by the files of a worker, seeded random
 *  data, and error metrics. */
import { afterAll, expect } from 'vitest';
import { GpuContext } from '../src/gpu/context';
import type { AcquiredDevice } from '../src/gpu/device';
import { acquireNodeDevice } from '../src/gpu/node';

/** The context of each tiling and the test file it belongs to. */
const contexts = new Map<string, { file: string; ctx: Promise<GpuContext> }>();
/** One device for the whole worker process: the files a worker runs one after another (vitest.config: isolate off)
 *  share it, and with it the compiled pipelines (GpuContext caches them per device). SwiftShader spends most of the
 *  suite compiling pipelines, and the model tests compile the same ones. Never destroyed: the process ends with it. */
let device: Promise<AcquiredDevice> | null = null;

/**
 * The test file's GpuContext (created on first use, its buffers freed after the file's tests). `tiling` picks the
 * kernel plans: the adapter's own by default (CPU plans on SwiftShader: few threads, few barriers), 'gpu' for the
 * plans a GPU runs (the kernel tests of the planned kernels use these, so the production tilings stay tested here),
 * 'cpu' for the CPU plans. Contexts of different tilings share the device; a pipeline's cache key names its plan.
 */
export function gpu(tiling?: 'gpu' | 'cpu'): Promise<GpuContext> {
  const file = expect.getState().testPath ?? '';
  const key = tiling ?? 'adapter';
  const held = contexts.get(key);
  if (held?.file === file) return held.ctx;
  // First use in this file. A context left by an earlier file of this worker is freed now: when that file's first
  // gpu() call ran inside a test, its afterAll below was accepted but never runs (Vitest runs only hooks registered
  // while the file is collected).
  if (held) void held.ctx.then((c) => c.release());
  device ??= acquireNodeDevice();
  const ctx = device.then((a) => new GpuContext(a, { tiling }));
  contexts.set(key, { file, ctx });
  afterAll(async () => {
    if (contexts.get(key)?.ctx !== ctx) return;
    contexts.delete(key);
    (await ctx).release();
  });
  return ctx;
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n floats uniform in [lo, hi). */
export function randArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** ‖a − b‖ / ‖b‖ (NaN anywhere gives Infinity, so it never passes). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    if (!Number.isFinite(a[i])) return Infinity;
    num += d * d;
    den += b[i] * b[i];
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/** max |a − b| / (|b| + atol) elementwise. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>, atol = 1e-6): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) return Infinity;
    m = Math.max(m, Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + atol));
  }
  return m;
}

/** A buffer filled with NaN, so a kernel that leaves an element unwritten fails the comparison. */
export function poisoned(ctx: GpuContext, floats: number, category: Parameters<GpuContext['buffer']>[1] = 'scratch'): GPUBuffer {
  const buf = ctx.buffer(floats * 4, category);
  ctx.device.queue.writeBuffer(buf, 0, new Float32Array(Math.ceil(floats / 4) * 4).fill(NaN));
  return buf;
}
