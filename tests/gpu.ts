/** Shared test helpers: one GpuContext per test file on Dawn, seeded random data, and error metrics. */
import { afterAll } from 'vitest';
import { GpuContext } from '../src/gpu/context';
import { acquireNodeDevice } from '../src/gpu/node';

const contexts = new Map<string, Promise<GpuContext>>();

/**
 * The test file's GpuContext (created on first use, destroyed after the file's tests). `tiling` picks the kernel
 * plans: the adapter's own by default (CPU plans on SwiftShader: few threads, few barriers), 'gpu' for the plans a
 * GPU runs (the kernel tests of the planned kernels use these, so the production tilings stay tested here), 'cpu'
 * for the CPU plans.
 */
export function gpu(tiling?: 'gpu' | 'cpu'): Promise<GpuContext> {
  const key = tiling ?? 'adapter';
  let p = contexts.get(key);
  if (!p) {
    p = acquireNodeDevice().then((a) => new GpuContext(a, { tiling }));
    contexts.set(key, p);
    afterAll(async () => {
      const ctx = await p;
      ctx?.destroy();
      contexts.delete(key);
    });
  }
  return p;
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
