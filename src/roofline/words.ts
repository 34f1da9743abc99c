/**
 * Rooflines in words a reader takes in at a glance: what bounds a measurement ("dispatch-bound: 99 dispatches ×
 * 6.6 µs = 0.65 ms"), what decides a comparison (the architecture: KV bytes, state bytes, quadratic FLOPs; or the
 * implementation: dispatch count, kernel efficiency; or plain model size), and at which lengths the bound changes.
 * Pure.
 */
import type { Bound, Roofline } from './floors';

// --- number formats (self-contained: this module also runs in Node for the bench) ---------------------------------

const sig = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function fmtTime(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 1) return `${sig(ms * 1e3)} µs`;
  if (ms < 1000) return `${sig(ms)} ms`;
  return `${sig(ms / 1e3)} s`;
}

function scaled(x: number, units: string[], base = 1000): string {
  if (!Number.isFinite(x)) return '—';
  let i = 0;
  while (Math.abs(x) >= base && i < units.length - 1) {
    x /= base;
    i++;
  }
  return `${sig(x)} ${units[i]}`;
}

export const fmtBytes = (b: number) => scaled(b, ['B', 'kB', 'MB', 'GB', 'TB']);
export const fmtFlops = (f: number) => scaled(f, ['FLOP', 'kFLOP', 'MFLOP', 'GFLOP', 'TFLOP', 'PFLOP']);
export const fmtBandwidth = (gbps: number) => (gbps >= 1000 ? `${sig(gbps / 1000)} TB/s` : `${sig(gbps)} GB/s`);
export const fmtThroughput = (gflops: number) => (gflops >= 1000 ? `${sig(gflops / 1000)} TFLOP/s` : `${sig(gflops)} GFLOP/s`);
export const fmtLength = (n: number) => (n >= 1024 && n % 1024 === 0 ? `${n / 1024}k` : n.toLocaleString('en-US'));

// --- one measurement -----------------------------------------------------------------------------------------------

export const BOUND_LABEL: Record<Bound, string> = { bandwidth: 'bandwidth-bound', compute: 'compute-bound', dispatch: 'dispatch-bound' };

/** What the sequence state is called for this work. */
function stateName(r: Pick<Roofline, 'mixer'>): string {
  return r.mixer === 'attention' ? 'KV cache' : 'SSM state';
}

/** The mixer's FLOPs in words. */
function mixerName(r: Pick<Roofline, 'mixer' | 'phase'>): string {
  if (r.mixer === 'attention') return r.phase === 'prefill' ? "attention's L² scores" : 'attention over the cache';
  return r.mixer === 'scan' ? "the scan's exponentials" : 'the SSD chunks';
}

/** The parts of a total that make at least 10% of it, largest first, as "a 12 MB, b 3 MB". */
function parts(items: [string, number][], fmt: (x: number) => string): string {
  const total = items.reduce((t, [, v]) => t + v, 0);
  return items
    .filter(([, v]) => v > 0 && v >= 0.1 * total)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ');
}

/** "dispatch-bound: 99 dispatches × 6.6 µs = 0.65 ms" (and the same for the other two bounds). */
export function boundPhrase(r: Roofline): string {
  const f = r.floors;
  if (r.bound === 'dispatch') return `dispatch-bound: ${r.dispatches.toLocaleString('en-US')} dispatches × ${fmtTime(r.rates.dispatchUs / 1e3)} = ${fmtTime(f.dispatchMs)}`;
  if (r.bound === 'bandwidth') {
    const what = parts([['weights', r.bytes.weights], [stateName(r), r.bytes.state], ['activations', r.bytes.activations]], fmtBytes);
    return `bandwidth-bound: ${fmtBytes(r.bytes.total)} (${what}) at ${fmtBandwidth(r.rates.copyGBps)} = ${fmtTime(f.bandwidthMs)}`;
  }
  const what = parts([['matmuls', r.flops.matmul], [mixerName(r), r.flops.mixer]], fmtFlops);
  return `compute-bound: ${fmtFlops(r.flops.total)} (${what}) at ${fmtThroughput(r.rates.matmulGflops)} = ${fmtTime(f.computeMs)}`;
}

/** "measured 0.70 ms of GPU time, 1.1× the floor" (or "" when not measured). */
export function measuredPhrase(r: Roofline): string {
  if (r.measuredMs === null || r.gap === null) return '';
  const how = r.timing === 'gpu' ? 'of GPU time' : 'wall time';
  return `measured ${fmtTime(r.measuredMs)} ${how}, ${r.gap < 10 ? r.gap.toFixed(1) : r.gap.toFixed(0)}× the floor`;
}

/** The bound and the measurement in one sentence (no final period). */
export function boundSentence(r: Roofline): string {
  const m = measuredPhrase(r);
  return m ? `${boundPhrase(r)}; ${m}` : boundPhrase(r);
}

// --- what decides it -----------------------------------------------------------------------------------------------

/** architecture: a floor that differs between the models by design (KV bytes, state bytes, attention's quadratic
 *  FLOPs, the scan's work); implementation: the dispatch count or the kernels' efficiency; size: the weights and the
 *  matmuls, which follow the parameter count whatever the architecture. */
export type Decider = 'architecture' | 'implementation' | 'size';

export interface Attribution {
  decider: Decider;
  /** e.g. "the KV cache (12 MB read per token)". */
  because: string;
}

/** Measured this many times its floor or more: the kernels, not the floor, set the time. */
export const FAR_FROM_FLOOR = 3;

export function attribute(r: Roofline): Attribution {
  if (r.bound === 'dispatch') return { decider: 'implementation', because: `its dispatch count (${r.dispatches.toLocaleString('en-US')} dispatches)` };
  if (r.gap !== null && r.gap >= FAR_FROM_FLOOR) {
    return { decider: 'implementation', because: `kernel efficiency (${r.gap.toFixed(0)}× its ${BOUND_LABEL[r.bound].replace('-bound', '')} floor)` };
  }
  if (r.bound === 'bandwidth') {
    const { weights, state, activations } = r.bytes;
    if (state >= weights && state >= activations) return { decider: 'architecture', because: `the ${stateName(r)} (${fmtBytes(state)} moved)` };
    if (activations > weights) return { decider: 'implementation', because: `activation traffic (${fmtBytes(activations)})` };
    return { decider: 'size', because: `the weights (${fmtBytes(weights)} read)` };
  }
  if (r.flops.mixer >= r.flops.matmul) return { decider: 'architecture', because: `${mixerName(r)} (${fmtFlops(r.flops.mixer)})` };
  return { decider: 'size', because: `the matmuls (${fmtFlops(r.flops.matmul)})` };
}

export const DECIDER_LABEL: Record<Decider, string> = {
  architecture: 'the architecture',
  implementation: 'the implementation',
  size: 'model size',
};

export interface PairVerdict {
  decider: Decider;
  sentence: string;
}

/** A model's roofline for one piece of work, with the name a sentence calls it by ("Mamba", "the Transformer"). */
export interface Named {
  name: string;
  r: Roofline;
}

/**
 * What decides a comparison of two or three models on the same work (same phase and length): the architecture when
 * any is bound by a floor that differs by design, else the implementation when any is set by dispatches or kernel
 * efficiency, else model size. The sentence names each model's bound.
 */
export function decideAll(models: Named[]): PairVerdict {
  const as = models.map((m) => attribute(m.r));
  const decider: Decider = as.some((a) => a.decider === 'architecture') ? 'architecture'
    : as.some((a) => a.decider === 'implementation') ? 'implementation' : 'size';
  const one = (m: Named, a: Attribution) => `${m.name} is ${BOUND_LABEL[m.r.bound]}, set by ${a.because}`;
  return { decider, sentence: `Decided by ${DECIDER_LABEL[decider]}: ${models.map((m, i) => one(m, as[i])).join('; ')}.` };
}

/** decideAll for two models. */
export function decidePair(m: Roofline, t: Roofline, names = { m: 'Mamba', t: 'the Transformer' }): PairVerdict {
  return decideAll([{ name: names.m, r: m }, { name: names.t, r: t }]);
}

/**
 * The counterfactual the short-context claim needs: which model would win if bytes were the bound (each at its
 * bandwidth floor), and whether that flips the measured winner (of two, "faster"; of three, "fastest"; a tie goes to
 * the later model).
 */
export function ifBytesBoundAll(models: Named[]): { flips: boolean; sentence: string } | null {
  if (models.length < 2 || models.some((m) => m.r.measuredMs === null)) return null;
  const best = (f: (m: Named) => number) => models.reduce((b, m) => (f(m) <= f(b) ? m : b));
  const measuredWinner = best((m) => m.r.measuredMs!);
  const bytesWinner = best((m) => m.r.floors.bandwidthMs);
  const flips = measuredWinner !== bytesWinner;
  const moved = models.map((m, i) => (i === 0 ? `${m.name} moves ${fmtBytes(m.r.bytes.total)}` : `${m.name} ${fmtBytes(m.r.bytes.total)}`)).join(', ');
  const faster = models.length === 2 ? 'faster' : 'fastest';
  return {
    flips,
    sentence: flips
      ? `If bytes were the bound, the verdict would flip: ${moved}, so ${bytesWinner.name} would be ${faster}.`
      : `If bytes were the bound, the verdict would stand: ${moved}, so ${bytesWinner.name} would still be ${faster}.`,
  };
}

/** ifBytesBoundAll for two models. */
export function ifBytesBound(m: Roofline, t: Roofline, names = { m: 'Mamba', t: 'the Transformer' }): { flips: boolean; sentence: string } | null {
  return ifBytesBoundAll([{ name: names.m, r: m }, { name: names.t, r: t }]);
}

// --- along the lengths -----------------------------------------------------------------------------------------------

/** Runs of the same bound along ascending lengths: [{ bound, from, to }]. */
export function boundRuns(series: { length: number; bound: Bound }[]): { bound: Bound; from: number; to: number }[] {
  const s = [...series].sort((a, b) => a.length - b.length);
  const out: { bound: Bound; from: number; to: number }[] = [];
  for (const p of s) {
    const last = out[out.length - 1];
    if (last && last.bound === p.bound) last.to = p.length;
    else out.push({ bound: p.bound, from: p.length, to: p.length });
  }
  return out;
}

/** "dispatch-bound up to L = 1k, compute-bound from 4k" (or "dispatch-bound at every length measured"). */
export function runsPhrase(series: { length: number; bound: Bound }[], every = 'at every length measured'): string {
  const runs = boundRuns(series);
  if (!runs.length) return '';
  if (runs.length === 1) return `${BOUND_LABEL[runs[0].bound]} ${every}`;
  return runs
    .map((r, i) => (i === 0 ? `${BOUND_LABEL[r.bound]} up to L = ${fmtLength(r.to)}` : `${BOUND_LABEL[r.bound]} from ${fmtLength(r.from)}`))
    .join(', ');
}

