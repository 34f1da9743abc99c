/**
 * The three floors of a piece of work on a calibrated GPU (src/roofline/calibrate.ts), the bound they name, and the gap
 * to a measurement:
 *   bandwidth floor  bytes moved / copy bandwidth       (no kernel moves bytes faster than a plain copy)
 *   compute floor    FLOPs / matmul FMA throughput      (our best f32 kernel's rate)
 *   dispatch floor   dispatches × one dependent dispatch's cost
 * The bound is the largest floor: the time the work could not go below even with perfect kernels, and the reason.
 * The gap is measured / bound: 1 means the work runs at its floor; 3 means two thirds of the time is something else
 * (kernel efficiency, CPU overhead when the time is wall clock). Pure.
 */
import type { Work } from './work';

/** What a calibration measured, as the floors use it. */
export interface Rates {
  /** Bytes read + written per second by the copy kernel, GB/s (1e9). */
  copyGBps: number;
  /** f32 matmul throughput, GFLOP/s (1e9). */
  matmulGflops: number;
  /** One dependent dispatch, µs. */
  dispatchUs: number;
}

export interface Floors {
  bandwidthMs: number;
  computeMs: number;
  dispatchMs: number;
}

export type Bound = 'bandwidth' | 'compute' | 'dispatch';
export const BOUNDS: Bound[] = ['bandwidth', 'compute', 'dispatch'];

/** A piece of work with its floors, bound and (when measured) the time it took and the gap. Plain data: it travels
 *  with sweep points and generate stats through postMessage and the JSON export. */
export interface Roofline extends Work {
  rates: Rates;
  floors: Floors;
  bound: Bound;
  /** The largest floor, ms. */
  boundMs: number;
  /** Measured time of the work, ms (a decode step: per token); null when not measured. */
  measuredMs: number | null;
  /** 'gpu': timestamp queries around the passes; 'wall': the wall clock (includes CPU and submit overhead). */
  timing: 'gpu' | 'wall' | null;
  /** measuredMs / boundMs. */
  gap: number | null;
}

export function floorsOf(w: Pick<Work, 'bytes' | 'flops' | 'dispatches'>, r: Rates): Floors {
  return {
    bandwidthMs: w.bytes.total / (r.copyGBps * 1e9) * 1e3,
    computeMs: w.flops.total / (r.matmulGflops * 1e9) * 1e3,
    dispatchMs: (w.dispatches * r.dispatchUs) / 1e3,
  };
}

/** The largest floor and its name (ties go to the earlier of bandwidth, compute, dispatch). */
export function boundOf(f: Floors): { bound: Bound; ms: number } {
  let best: Bound = 'bandwidth';
  for (const b of BOUNDS) if (floorMs(f, b) > floorMs(f, best)) best = b;
  return { bound: best, ms: floorMs(f, best) };
}

export function floorMs(f: Floors, b: Bound): number {
  return b === 'bandwidth' ? f.bandwidthMs : b === 'compute' ? f.computeMs : f.dispatchMs;
}

export function roofline(w: Work, rates: Rates, measured?: { ms: number; timing: 'gpu' | 'wall' } | null): Roofline {
  const floors = floorsOf(w, rates);
  const { bound, ms } = boundOf(floors);
  const m = measured && Number.isFinite(measured.ms) && measured.ms > 0 ? measured : null;
  return {
    ...w, rates: { ...rates }, floors, bound, boundMs: ms,
    measuredMs: m ? m.ms : null, timing: m ? m.timing : null, gap: m && ms > 0 ? m.ms / ms : null,
  };
}
