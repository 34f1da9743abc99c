import { describe, expect, it } from 'vitest';
import { gpu, randArray, poisoned } from './gpu';
import { CopyKernel, copyReference } from '../src/kernels/copy';
import { acquireDevice, checkBindingSize } from '../src/gpu/device';
import { LimitExceededError, NoWebGPUError, OutOfMemoryError } from '../src/gpu/errors';
import { timeGpu } from '../src/gpu/timing';

describe('GPU runtime on Dawn', () => {
  it('gets an adapter with real limits', async () => {
    const ctx = await gpu();
    expect(ctx.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 << 20);
    expect(ctx.limits.maxComputeWorkgroupStorageSize).toBeGreaterThanOrEqual(16384);
  });

  it('copy_vec4 matches the CPU reference, including a multi-row grid', async () => {
    const ctx = await gpu();
    for (const n of [4, 1028, 4 * 256 * 4096 + 64]) {
      const x = randArray(n, n);
      const src = ctx.upload(x);
      const dst = poisoned(ctx, n);
      const k = new CopyKernel(ctx);
      ctx.run((pass) => k.encode(pass, src, dst, n));
      const got = await ctx.readF32(dst, n);
      const want = copyReference(x);
      let mismatches = 0;
      for (let i = 0; i < n; i++) if (!(got[i] === want[i])) mismatches++;
      expect(mismatches).toBe(0);
      ctx.pool.release(src);
      ctx.pool.release(dst);
    }
  });

  it('buffer pool counts live bytes per category and reuses released buffers', async () => {
    const ctx = await gpu();
    const before = ctx.pool.bytesByCategory();
    const a = ctx.buffer(1000, 'kv-cache');
    const b = ctx.buffer(64, 'ssm-state');
    const after = ctx.pool.bytesByCategory();
    expect(after['kv-cache'] - before['kv-cache']).toBe(1008);
    expect(after['ssm-state'] - before['ssm-state']).toBe(64);
    ctx.pool.release(a);
    expect(ctx.pool.bytesByCategory()['kv-cache']).toBe(before['kv-cache']);
    const c = ctx.buffer(1000, 'activations');
    expect(c).toBe(a);
    ctx.pool.release(b);
    ctx.pool.release(c);
  });

  it('a memory cap makes allocations past it fail as out of memory; cached free buffers are dropped first', async () => {
    const ctx = await gpu();
    ctx.pool.trim();
    const base = ctx.pool.totalLiveBytes();
    ctx.pool.memoryCap = base + 4096;
    try {
      const a = ctx.buffer(2048, 'kv-cache');
      const b = ctx.buffer(2048, 'kv-cache');
      expect(() => ctx.buffer(16, 'kv-cache', 'one too many')).toThrow(OutOfMemoryError);
      expect(() => ctx.buffer(16, 'kv-cache', 'one too many')).toThrow(/one too many.*memory cap/);
      expect(ctx.pool.totalLiveBytes()).toBe(base + 4096); // the failed call left nothing behind
      ctx.pool.release(a); // cached for reuse (counts against the cap until trimmed)
      expect(ctx.pool.cachedFreeBytes()).toBe(2048);
      const c = ctx.buffer(1024, 'activations'); // a new size: the cache is dropped to make room
      expect(ctx.pool.cachedFreeBytes()).toBe(0);
      ctx.pool.release(b);
      ctx.pool.release(c);
    } finally {
      ctx.pool.memoryCap = null;
    }
    expect(ctx.buffer(1 << 20, 'scratch')).toBeTruthy();
  });

  it('raises clear errors for no WebGPU and exceeded limits', async () => {
    const ctx = await gpu();
    await expect(acquireDevice(undefined)).rejects.toBeInstanceOf(NoWebGPUError);
    expect(() => checkBindingSize(ctx.limits, ctx.limits.maxStorageBufferBindingSize + 4, 'embedding')).toThrow(LimitExceededError);
    expect(() => ctx.buffer(ctx.limits.maxStorageBufferBindingSize + 16, 'weights', 'huge')).toThrow(/maxStorageBufferBindingSize/);
  });

  it('times a kernel', async () => {
    const ctx = await gpu();
    const n = 1 << 16;
    const src = ctx.upload(randArray(n, 1));
    const dst = ctx.buffer(n * 4);
    const k = new CopyKernel(ctx);
    const t = await timeGpu(ctx, (pass) => k.encode(pass, src, dst, n), { iters: 5, warmup: 1 });
    expect(t.ms).toBeGreaterThan(0);
    expect(['timestamp', 'wall']).toContain(t.method);
  });
});
