/**
 * The bound along the context length, from the config and the calibration alone: where a model's prefill or decode
 * would change from dispatch-bound to bandwidth- or compute-bound, beyond the lengths measured. Dispatch counts come
 * from a measurement (a decode step's count does not depend on L; a prefill's grows with its passes). Pure.
 */
import type { ModelConfig } from '../hub/config';
import { boundOf, floorsOf, type Bound, type Floors, type Rates } from './floors';
import { decodeWork, prefillWork, type Phase } from './work';

export interface OutlookPoint {
  length: number;
  bound: Bound;
  boundMs: number;
  floors: Floors;
}

export interface OutlookOptions {
  matrixDType?: 'f32' | 'f16';
  /** Decode: dispatches per step. Prefill: dispatches per pass (× the passes at each length). */
  dispatches: number;
  /** Prefill: tokens per pass (default 1024). */
  passTokens?: number;
  /** Lengths to evaluate (default powers of two from 64 to maxLength). */
  lengths?: number[];
  maxLength?: number;
}

export function outlook(c: ModelConfig, phase: Phase, rates: Rates, o: OutlookOptions): OutlookPoint[] {
  const max = o.maxLength ?? 1 << 17;
  const lengths = o.lengths ?? Array.from({ length: 20 }, (_, i) => 2 ** (i + 6)).filter((l) => l <= max);
  return lengths.map((length) => {
    const passes = Math.ceil(length / (o.passTokens ?? 1024));
    const w = phase === 'decode'
      ? decodeWork(c, length, { matrixDType: o.matrixDType, dispatches: o.dispatches })
      : prefillWork(c, length, { matrixDType: o.matrixDType, passes, dispatches: o.dispatches * passes });
    const floors = floorsOf(w, rates);
    const b = boundOf(floors);
    return { length, bound: b.bound, boundMs: b.ms, floors };
  });
}

/** The lengths where the outlook's bound changes: [{ length (first length with the new bound), from, to }]. */
export function outlookChanges(points: OutlookPoint[]): { length: number; from: Bound; to: Bound }[] {
  const out: { length: number; from: Bound; to: Bound }[] = [];
  for (let i = 1; i < points.length; i++) {
    if (points[i].bound !== points[i - 1].bound) out.push({ length: points[i].length, from: points[i - 1].bound, to: points[i].bound });
  }
  return out;
}
