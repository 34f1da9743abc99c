/**
 * The bench's roofline columns (src/roofline/): per row, for the prefill and for one decode step, the dispatches,
 * bytes moved, FLOPs, the three floors, the bound, the measured time (GPU time where timestamps allow, else wall) and
 * the gap, flat for the CSV and as lines for the console, the same figures the page shows.
 */
import type { Roofline } from '../roofline/floors';
import type { MeasuredRooflines } from '../roofline/meter';

type Prefix = 'prefill' | 'decode';
type Cols<P extends Prefix> = {
  [K in `${P}Dispatches` | `${P}MB` | `${P}Gflop` | `${P}FloorBandwidthMs` | `${P}FloorComputeMs` | `${P}FloorDispatchMs` | `${P}MeasuredMs` | `${P}Gap`]: number;
} & { [K in `${P}Bound` | `${P}Timing`]: string };
export type RooflineColumns = Cols<'prefill'> & Cols<'decode'>;

function cols<P extends Prefix>(p: P, r: Roofline | null): Cols<P> {
  const o: Record<string, number | string> = {
    [`${p}Dispatches`]: r?.dispatches ?? NaN,
    [`${p}MB`]: r ? r.bytes.total / 1e6 : NaN,
    [`${p}Gflop`]: r ? r.flops.total / 1e9 : NaN,
    [`${p}FloorBandwidthMs`]: r?.floors.bandwidthMs ?? NaN,
    [`${p}FloorComputeMs`]: r?.floors.computeMs ?? NaN,
    [`${p}FloorDispatchMs`]: r?.floors.dispatchMs ?? NaN,
    [`${p}Bound`]: r?.bound ?? '',
    [`${p}MeasuredMs`]: r?.measuredMs ?? NaN,
    [`${p}Timing`]: r?.timing ?? '',
    [`${p}Gap`]: r?.gap ?? NaN,
  };
  return o as Cols<P>;
}

export function rooflineColumns(r: MeasuredRooflines | null): RooflineColumns {
  return { ...cols('prefill', r?.prefill ?? null), ...cols('decode', r?.decode ?? null) };
}

export const ROOFLINE_HEADER = '  roofline  phase         disp     MB moved      GFLOP   bw floor ms  FLOP floor ms  disp floor ms  bound       measured ms  timing   gap';

/** Two lines under a bench row: the prefill and one decode step (per token). */
export function rooflineLines(r: MeasuredRooflines | null): string[] {
  const f = (x: number | null | undefined, d = 3) => (x !== null && x !== undefined && Number.isFinite(x) ? x.toFixed(d) : '-');
  const line = (phase: string, x: Roofline | null) => x
    ? `  roofline  ${phase.padEnd(9)} ${f(x.dispatches, 0).padStart(7)} ${f(x.bytes.total / 1e6, 1).padStart(12)} ${f(x.flops.total / 1e9, 2).padStart(10)} ${f(x.floors.bandwidthMs).padStart(13)} ${f(x.floors.computeMs).padStart(14)} ${f(x.floors.dispatchMs).padStart(14)}  ${x.bound.padEnd(10)} ${f(x.measuredMs).padStart(12)}  ${(x.timing ?? '-').padEnd(6)} ${f(x.gap, 2).padStart(5)}`
    : `  roofline  ${phase.padEnd(9)} (not measured)`;
  return [line('prefill', r?.prefill ?? null), line('decode/tok', r?.decode ?? null)];
}
