/** The chart rows every ArchLineChart draws: one row per x, a column per series; a value a chart cannot place
 *  (infinite or NaN, e.g. a rate over no measurable time) is a gap, so it cannot stretch the axis and hide the others. */
import { describe, expect, it } from 'vitest';
import { mergeSeries } from '../../src/app/components/charts';

describe('mergeSeries', () => {
  it('joins series by x, sorted, and turns values a chart cannot place into gaps', () => {
    const rows = mergeSeries([
      { arch: 'mamba', points: [{ x: 32, y: 5 }, { x: 16, y: 4 }] },
      { arch: 'mamba2', points: [{ x: 16, y: Infinity }, { x: 32, y: Number.NaN }] },
      { arch: 'transformer', points: [{ x: 16, y: null }, { x: 64, y: 2 }] },
    ]);
    expect(rows).toEqual([
      { x: 16, mamba: 4, mamba2: null, transformer: null },
      { x: 32, mamba: 5, mamba2: null },
      { x: 64, transformer: 2 },
    ]);
  });
});
