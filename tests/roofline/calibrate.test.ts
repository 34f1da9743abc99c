/** The calibration (src/roofline/calibrate.ts) on this machine's adapter (SwiftShader without a GPU): every figure positive
 *  and finite, timestamps detected or not, and the wall-clock path a device without timestamp-query takes. */
import { describe, expect, test } from 'vitest';
import { calibrate, calibrated, calibrationOf } from '../../src/roofline/calibrate';
import { GpuContext } from '../../src/gpu/context';
import { acquireNodeDevice } from '../../src/gpu/node';
import { gpu } from '../gpu';

const finitePositive = (x: number) => Number.isFinite(x) && x > 0;

describe('calibration', () => {
  test('copy bandwidth, dispatch cost and matmul throughput are positive and finite; timestamps detected', async () => {
    const ctx = await gpu();
    const live = ctx.pool.totalLiveBytes();
    expect(calibrationOf(ctx)).toBeNull();
    const c = await calibrated(ctx);
    console.log(JSON.stringify(c));
    expect(calibrationOf(ctx)).toBe(c);
    expect(await calibrated(ctx)).toBe(c); // measured once per context
    for (const x of [c.copyGBps, c.dispatchUs, c.matmulGflops, c.ms]) expect(finitePositive(x)).toBe(true);
    expect(c.timestamps.available).toBe(ctx.has('timestamp-query'));
    if (c.timestamps.available) {
      // a rounding was found (exact timestamps give a few ns at most), and a figure timed with timestamps used them
      expect(c.timestamps.quantumUs === null || c.timestamps.quantumUs > 0).toBe(true);
    } else {
      expect(c.timestamps.quantumUs).toBeNull();
      expect(Object.values(c.timing)).toEqual(['wall', 'wall', 'wall']);
    }
    expect(c.shapes.chain).toBeGreaterThan(1);
    // the copy moved at least the buffer twice (read + write) in the time measured: the figure is not a rate of nothing
    expect(c.shapes.copyBytes).toBeGreaterThanOrEqual(1 << 20);
    // nothing left behind in the pool but the matmul kernel's 16-byte dummy binding
    expect(ctx.pool.totalLiveBytes() - live).toBeLessThanOrEqual(16);
  });

  test('without timestamp-query every figure is timed by the wall clock', async () => {
    const ctx = new GpuContext(await acquireNodeDevice({ disableFeatures: ['timestamp-query'] }));
    try {
      const c = await calibrate(ctx);
      expect(c.timestamps).toEqual({ available: false, quantumUs: null });
      expect(c.timing).toEqual({ copy: 'wall', dispatch: 'wall', matmul: 'wall' });
      for (const x of [c.copyGBps, c.dispatchUs, c.matmulGflops]) expect(finitePositive(x)).toBe(true);
    } finally {
      ctx.destroy();
    }
  });
});
