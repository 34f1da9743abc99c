/** Number formatting for the UI. */
export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n < 1000) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 10_000) return `${ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function fmtRate(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x) || x === 0) return '—';
  if (x >= 10_000) return `${(x / 1000).toFixed(1)}k`;
  if (x >= 100) return x.toFixed(0);
  return x.toFixed(1);
}

export function fmtLen(n: number): string {
  return n >= 1024 && n % 1024 === 0 ? `${n / 1024}k` : n.toLocaleString('en-US');
}

export function fmtPct(x: number): string {
  return Number.isFinite(x) ? `${Math.round(x * 100)}%` : '—';
}

export const COLORS = { mamba: '#0ea5a4', mamba2: '#e8770e', transformer: '#7c5cff' } as const;
export const AXIS = '#8a8fa3';
export const GRID = 'rgba(138,143,163,0.25)';

/** Time (input in ms) or bytes on a chart axis: one unit for every tick, picked from the data's range. */
export type AxisQuantity = 'time' | 'bytes';

export interface AxisUnit {
  unit: string;
  /** Multiply a value by this to get it in `unit`. */
  scale: number;
  /** A tick label in the axis unit (no unit suffix; the axis title carries it). */
  tick: (v: number) => string;
}

const TIME_UNITS: [string, number][] = [['µs', 1e3], ['ms', 1], ['s', 1e-3]];
const BYTE_UNITS: [string, number][] = [['KB', 1e-3], ['MB', 1e-6], ['GB', 1e-9]];

/** The unit for an axis over `values`: by the largest value on a linear axis, by the geometric middle on a log axis. */
export function axisUnit(q: AxisQuantity, values: number[], log = false): AxisUnit {
  const v = values.filter((x) => Number.isFinite(x) && x > 0);
  const ref = !v.length ? 0 : log ? Math.sqrt(Math.min(...v) * Math.max(...v)) : Math.max(...v);
  const units = q === 'time' ? TIME_UNITS : BYTE_UNITS;
  // the largest unit in which ref is still ≥ 1 (µs below 1 ms, seconds from 10 s: 1,000–9,999 ms read fine as ms)
  let pick = units[0];
  for (const u of units) {
    const limit = q === 'time' && u[0] === 's' ? 10 : 1;
    if (ref * u[1] >= limit) pick = u;
  }
  const [unit, scale] = pick;
  const tick = (x: number) => {
    if (x === 0) return '0';
    const y = x * scale;
    const r = Math.abs(y) >= 100 ? Math.round(y) : +y.toPrecision(2);
    return r.toLocaleString('en-US', { maximumFractionDigits: 3 });
  };
  return { unit, scale, tick };
}

/** A rate or count tick: plain numbers (0 is "0"). */
export function fmtTick(v: number): string {
  if (v === 0) return '0';
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : String(+v.toPrecision(2));
}
