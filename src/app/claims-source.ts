/**
 * Which measurements a claim's verdict reads: the newest finished run of the loaded pair, from the Scaling tab, the
 * Recall lab or the Claims tab itself, whose settings cover the claim (its verdict has enough data). A run still
 * going is never read: the claim waits for it.
 */
import type { Verdict } from '../recall/analysis';
import type { RecallPoint, SweepPoint } from '../recall/types';
import { ARCHS, type Arch } from '../models/types';
import type { RunRecord } from '../store/store';

export interface MeasuredRun<T> {
  id: string;
  /** Where it ran: the Scaling tab, the Recall lab, or the Claims tab. */
  from: 'scaling' | 'recall' | 'claims';
  finishedAt: string;
  points: T[];
  settings: RunRecord['settings'];
}

/** The loaded models (a pair, or three), as the sources of each slot's model (ModelInfo.source). */
export type PairKey = Partial<Record<Arch, string>>;

function samePair(r: RunRecord, pair: PairKey): boolean {
  return ARCHS.every((a) => (r.models[a]?.source ?? null) === (pair[a] ?? null));
}

function finished(r: RunRecord): boolean {
  return !r.cancelled && !r.error;
}

/** Finished sweeps of this pair, newest first: the Scaling tab's and the Claims tab's own. */
export function sweepRuns(runs: readonly RunRecord[], pair: PairKey): MeasuredRun<SweepPoint>[] {
  const out: MeasuredRun<SweepPoint>[] = [];
  for (const r of runs) {
    if (!finished(r) || !samePair(r, pair)) continue;
    const d = r.data as { points?: SweepPoint[]; which?: string; sweep?: SweepPoint[] };
    if (r.kind === 'sweep' && d.points?.length) out.push({ id: r.id, from: 'scaling', finishedAt: r.finishedAt, points: d.points, settings: r.settings });
    // a claims run carries over the other half from before: only the part it measured counts
    if (r.kind === 'claims' && d.which !== 'recall' && d.sweep?.length) out.push({ id: r.id, from: 'claims', finishedAt: r.finishedAt, points: d.sweep, settings: r.settings });
  }
  return out.reverse();
}

/** Finished recall probe runs of this pair, newest first: the Recall lab's and the Claims tab's own. */
export function recallRuns(runs: readonly RunRecord[], pair: PairKey): MeasuredRun<RecallPoint>[] {
  const out: MeasuredRun<RecallPoint>[] = [];
  for (const r of runs) {
    if (!finished(r) || !samePair(r, pair)) continue;
    const d = r.data as { points?: RecallPoint[]; which?: string; recall?: RecallPoint[] };
    if (r.kind === 'recall' && d.points?.length) out.push({ id: r.id, from: 'recall', finishedAt: r.finishedAt, points: d.points, settings: r.settings });
    if (r.kind === 'claims' && d.which !== 'scaling' && d.recall?.length) out.push({ id: r.id, from: 'claims', finishedAt: r.finishedAt, points: d.recall, settings: r.settings });
  }
  return out.reverse();
}

/** The newest run whose points give the claim a verdict (not "no data"), with that verdict; null if none does. */
export function pickRun<T>(runs: readonly MeasuredRun<T>[], verdict: (points: T[]) => Verdict): { run: MeasuredRun<T>; verdict: Verdict } | null {
  for (const run of runs) {
    const v = verdict(run.points);
    if (v.status !== 'no-data') return { run, verdict: v };
  }
  return null;
}
