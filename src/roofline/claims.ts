/**
 * What decides each speed claim of the Claims tab, from the rooflines of a context sweep's points: at the length the
 * claim turns on, whether the models' times (two, or all three: Mamba, Mamba-2, the Transformer) are set by the
 * architecture (KV bytes, state bytes, quadratic FLOPs), the implementation (dispatch count, kernel efficiency) or
 * plain model size, and at which lengths each model's bound changes (measured, then by the floors beyond the lengths
 * measured). Pure.
 */
import { ARCHS, type Arch } from '../models/types';
import type { MeasuredRooflines } from './meter';

/** What the claims read of a sweep point (src/recall/types.ts SweepPoint): structural, so roofline/ needs nothing from recall/. */
export interface SweepPoint {
  arch: Arch;
  length: number;
  stateBytes: number;
  roofline?: MeasuredRooflines | null;
}
import type { Roofline } from './floors';
import type { OutlookPoint } from './outlook';
import { BOUND_LABEL, decideAll, DECIDER_LABEL, fmtBytes, fmtLength, ifBytesBoundAll, runsPhrase, type Decider, type Named } from './words';

export type RooflinePhase = 'prefill' | 'decode';

export interface ClaimBound {
  decider: Decider | null;
  /** One or two sentences. */
  text: string;
}

const NAME: Record<Arch, string> = { mamba: 'Mamba', mamba2: 'Mamba-2', transformer: 'the Transformer' };
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function rooflineAt(points: SweepPoint[], arch: Arch, length: number, phase: RooflinePhase): Roofline | null {
  return points.find((p) => p.arch === arch && p.length === length)?.roofline?.[phase] ?? null;
}

/** The models with a roofline for the phase, in the page's order (Mamba, Mamba-2, the Transformer). */
function archsWith(points: SweepPoint[], phase: RooflinePhase): Arch[] {
  return ARCHS.filter((a) => points.some((p) => p.arch === a && p.roofline?.[phase]));
}

/** Lengths where every one of `archs` (default: Mamba and the Transformer) has a roofline for the phase, ascending. */
export function commonLengths(points: SweepPoint[], phase: RooflinePhase, archs: readonly Arch[] = ['mamba', 'transformer']): number[] {
  const has = (arch: Arch) => new Set(points.filter((p) => p.arch === arch && p.roofline?.[phase]).map((p) => p.length));
  const sets = archs.map(has);
  if (!sets.length) return [];
  return [...sets[0]].filter((l) => sets.every((s) => s.has(l))).sort((a, b) => a - b);
}

/**
 * The models a claim compares and the lengths they share: all those measured (two or three) when they share a
 * length, else the first recurrent model that shares one with the Transformer; null when no two models do.
 */
function comparedSet(points: SweepPoint[], phase: RooflinePhase): { archs: Arch[]; lengths: number[] } | null {
  const all = archsWith(points, phase);
  const tries = [all, ...all.filter((a) => a !== 'transformer').map((a) => [a, 'transformer'] as Arch[])];
  for (const archs of tries) {
    if (archs.length < 2 || (archs !== all && !all.includes('transformer'))) continue;
    const lengths = commonLengths(points, phase, archs);
    if (lengths.length) return { archs, lengths };
  }
  return null;
}

/** The bound of each measured length for one model and phase. */
export function boundSeries(points: SweepPoint[], arch: Arch, phase: RooflinePhase): { length: number; bound: Roofline['bound']; r: Roofline }[] {
  return points
    .filter((p) => p.arch === arch && p.roofline?.[phase])
    .map((p) => ({ length: p.length, bound: p.roofline![phase]!.bound, r: p.roofline![phase]! }))
    .sort((a, b) => a.length - b.length);
}

/** The first change of bound by the floors past the longest length measured ("; by the floors, bandwidth-bound
 *  from 32k"), or "". */
function beyond(points: SweepPoint[], arch: Arch, phase: RooflinePhase): string {
  const s = boundSeries(points, arch, phase);
  if (!s.length) return '';
  const last = s[s.length - 1];
  const o: OutlookPoint[] = points.find((p) => p.arch === arch && p.length === last.length)?.roofline?.outlook[phase] ?? [];
  const next = o.find((x) => x.length > last.length && x.bound !== last.bound);
  return next ? `; by the floors, ${BOUND_LABEL[next.bound]} from L ≈ ${fmtLength(next.length)}` : '';
}

/** "Mamba: dispatch-bound up to L = 1k, compute-bound from 4k; Mamba-2: …; the Transformer: …." */
export function changesSentence(points: SweepPoint[], phase: RooflinePhase): string {
  const parts = ARCHS
    .map((a) => {
      const s = boundSeries(points, a, phase);
      return s.length ? `${NAME[a]}: ${runsPhrase(s)}${beyond(points, a, phase)}` : '';
    })
    .filter(Boolean);
  return parts.length ? `${cap(parts.join('; '))}.` : '';
}

function setSentence(points: SweepPoint[], archs: Arch[], length: number, phase: RooflinePhase): { decider: Decider; text: string; models: Named[] } {
  const models = archs.map((a) => ({ name: NAME[a], r: rooflineAt(points, a, length, phase)! }));
  const v = decideAll(models);
  return { decider: v.decider, text: `At L = ${fmtLength(length)}: ${v.sentence}`, models };
}

/** "Mamba's cost grows linearly; attention's quadratically": decided at the longest length measured for all. */
export function prefillScalingBound(points: SweepPoint[]): ClaimBound | null {
  const set = comparedSet(points, 'prefill');
  if (!set) return null;
  const p = setSentence(points, set.archs, set.lengths[set.lengths.length - 1], 'prefill');
  return { decider: p.decider, text: `${p.text} ${changesSentence(points, 'prefill')}` };
}

/** "Mamba decodes at the same speed however long the context": decided at the longest length measured for all. */
export function decodeBound(points: SweepPoint[]): ClaimBound | null {
  const set = comparedSet(points, 'decode');
  if (!set) return null;
  const p = setSentence(points, set.archs, set.lengths[set.lengths.length - 1], 'decode');
  return { decider: p.decider, text: `${p.text} ${changesSentence(points, 'decode')}` };
}

/**
 * "For short contexts attention is cheaper": decided at the shortest length measured for all. States the bound and
 * whether the verdict would flip if bytes were the bound (each model at its bandwidth floor).
 */
export function shortContextBound(points: SweepPoint[]): ClaimBound | null {
  const set = comparedSet(points, 'prefill');
  if (!set) return null;
  const p = setSentence(points, set.archs, set.lengths[0], 'prefill');
  const cf = ifBytesBoundAll(p.models);
  return { decider: p.decider, text: [p.text, cf?.sentence ?? '', changesSentence(points, 'prefill')].filter(Boolean).join(' ') };
}

/** "Mamba's memory stays constant; the KV cache grows": bytes the sequence holds, which differ by design. */
export function memoryBound(points: SweepPoint[]): ClaimBound | null {
  const byArch = (a: Arch) => points.filter((p) => p.arch === a).sort((x, y) => x.length - y.length);
  const t = byArch('transformer');
  const ssms = ARCHS.filter((a) => a !== 'transformer' && byArch(a).length >= 2);
  if (!ssms.length || t.length < 2) return null;
  // the KV cache's bytes per token of context: the slope of the decode step's cache read between two lengths
  const d = t.filter((p) => p.roofline?.decode);
  const a = d[0]?.roofline?.decode, b = d[d.length - 1]?.roofline?.decode;
  const perToken = a && b && b.context > a.context ? (b.bytes.state - a.bytes.state) / (b.context - a.context) : null;
  const state = (x: Arch) => fmtBytes(byArch(x)[byArch(x).length - 1].stateBytes);
  const states = ssms.map((x, i) => (i === 0 ? `${NAME[x]}'s state is ${state(x)}` : `${NAME[x]}'s ${state(x)}`)).join(', ');
  return {
    decider: 'architecture',
    text: `Decided by ${DECIDER_LABEL.architecture}: the KV cache keeps every token${perToken ? ` (${fmtBytes(perToken)} more per token of context)` : ''}; ` +
      `${states} at any length.`,
  };
}
