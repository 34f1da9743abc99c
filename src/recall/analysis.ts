/**
 * Turning measurements into numbers and verdicts: power-law fits (time ∝ L^k), the crossover length where a recurrent
 * model's prefill (Mamba, Mamba-2) becomes faster than attention, recall accuracy grids, and the claims-check verdicts
 * (each recurrent model measured judged against the Transformer).
 */
import { RECURRENT, type Arch } from '../models/types';
import type { RecallPoint, SweepPoint } from './types';

/** Least-squares slope k and intercept of log(y) = k·log(x) + c over positive points. */
export function fitPowerLaw(xs: number[], ys: number[]): { exponent: number; r2: number } | null {
  const pts: [number, number][] = [];
  for (let i = 0; i < xs.length; i++) if (xs[i] > 0 && ys[i] > 0 && Number.isFinite(ys[i])) pts.push([Math.log(xs[i]), Math.log(ys[i])]);
  if (pts.length < 2) return null;
  const n = pts.length;
  const mx = pts.reduce((s, p) => s + p[0], 0) / n;
  const my = pts.reduce((s, p) => s + p[1], 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of pts) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
    syy += (y - my) ** 2;
  }
  if (sxx === 0) return null;
  const k = sxy / sxx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { exponent: k, r2 };
}

export function byArch<T extends { arch: Arch }>(points: T[], arch: Arch): T[] {
  return points.filter((p) => p.arch === arch);
}

/** Prefill-time exponent over the longer half of the lengths (short lengths are dominated by fixed costs). */
export function prefillExponent(points: SweepPoint[], arch: Arch): { exponent: number; r2: number } | null {
  const ps = byArch(points, arch).sort((a, b) => a.length - b.length);
  if (ps.length < 3) return null;
  const tail = ps.slice(Math.floor((ps.length - 1) / 2));
  return fitPowerLaw(
    tail.map((p) => p.length),
    tail.map((p) => p.prefillMs),
  );
}

/**
 * Crossover: the context length where a recurrent model's prefill time (Mamba, or `ssm`) drops below the
 * Transformer's. Interpolated in log space between the two measured lengths where the sign of
 * log(tSsm/tTransformer) changes. null when there is no change.
 */
export function crossover(points: SweepPoint[], metric: (p: SweepPoint) => number = (p) => p.prefillMs, ssm: Arch = 'mamba'): {
  length: number;
  transformerFasterBelow: boolean;
} | null {
  const m = new Map(byArch(points, ssm).map((p) => [p.length, metric(p)]));
  const t = new Map(byArch(points, 'transformer').map((p) => [p.length, metric(p)]));
  const common = [...m.keys()].filter((l) => t.has(l)).sort((a, b) => a - b);
  let prev: { l: number; r: number } | null = null;
  for (const l of common) {
    const r = Math.log(m.get(l)! / t.get(l)!);
    if (!Number.isFinite(r)) continue;
    if (prev && Math.sign(r) !== Math.sign(prev.r) && r !== 0) {
      const f = prev.r / (prev.r - r);
      const length = Math.exp(Math.log(prev.l) + f * (Math.log(l) - Math.log(prev.l)));
      return { length: Math.round(length), transformerFasterBelow: prev.r > 0 };
    }
    prev = { l, r };
  }
  return null;
}

export interface RecallCell {
  length: number;
  depth: number;
  score: number;
  n: number;
}

/** Mean score per (length, depth) for one model and probe: the heatmap. */
export function recallGrid(points: RecallPoint[], arch: Arch, probe: RecallPoint['probe']): RecallCell[] {
  const cells = new Map<string, RecallCell>();
  for (const p of points) {
    if (p.arch !== arch || p.probe !== probe) continue;
    const key = `${p.length}|${p.depth}`;
    const c = cells.get(key) ?? { length: p.length, depth: p.depth, score: 0, n: 0 };
    c.score = (c.score * c.n + p.score) / (c.n + 1);
    c.n++;
    cells.set(key, c);
  }
  return [...cells.values()].sort((a, b) => a.length - b.length || a.depth - b.depth);
}

/** Mean score per length (over depths and trials). */
export function recallByLength(points: RecallPoint[], arch: Arch, probe: RecallPoint['probe']): { length: number; score: number; n: number }[] {
  const m = new Map<number, { s: number; n: number }>();
  for (const p of points) {
    if (p.arch !== arch || p.probe !== probe) continue;
    const e = m.get(p.length) ?? { s: 0, n: 0 };
    e.s += p.score;
    e.n++;
    m.set(p.length, e);
  }
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([length, e]) => ({ length, score: e.s / e.n, n: e.n }));
}

/** Mean multikey accuracy of one (length, K) cell. */
export interface CapacityCell {
  length: number;
  /** K: the number of facts in the document. */
  keys: number;
  score: number;
  n: number;
}

/** Mean multikey accuracy per (length, K) for one model: the capacity heatmap. */
export function capacityGrid(points: RecallPoint[], arch: Arch): CapacityCell[] {
  const cells = new Map<string, CapacityCell>();
  for (const p of points) {
    if (p.arch !== arch || p.probe !== 'multikey' || p.keys === undefined) continue;
    const key = `${p.length}|${p.keys}`;
    const c = cells.get(key) ?? { length: p.length, keys: p.keys, score: 0, n: 0 };
    c.score = (c.score * c.n + p.score) / (c.n + 1);
    c.n++;
    cells.set(key, c);
  }
  return [...cells.values()].sort((a, b) => a.length - b.length || a.keys - b.keys);
}

/**
 * The length to compare capacity at: among the lengths where every model in `archs` has multikey results at 2 or
 * more K values in common, the one with the most common K values (ties: the longest). null when there is none.
 */
export function capacityLength(points: RecallPoint[], archs: Arch[]): { length: number; keys: number[] } | null {
  if (!archs.length) return null;
  const grids = archs.map((a) => capacityGrid(points, a));
  let best: { length: number; keys: number[] } | null = null;
  for (const length of new Set(grids[0].map((c) => c.length))) {
    const common = grids
      .map((g) => new Set(g.filter((c) => c.length === length).map((c) => c.keys)))
      .reduce((acc, ks) => new Set([...acc].filter((k) => ks.has(k))));
    const keys = [...common].sort((a, b) => a - b);
    if (keys.length < 2) continue;
    if (!best || keys.length > best.keys.length || (keys.length === best.keys.length && length > best.length)) best = { length, keys };
  }
  return best;
}

/** Multikey accuracy vs K at one length, for one model: the capacity curve. */
export function capacityByKeys(points: RecallPoint[], arch: Arch, length: number): { keys: number; score: number; n: number }[] {
  return capacityGrid(points, arch)
    .filter((c) => c.length === length)
    .map(({ keys, score, n }) => ({ keys, score, n }));
}

export type VerdictStatus = 'supported' | 'contradicted' | 'inconclusive' | 'no-data';

export interface Verdict {
  status: VerdictStatus;
  /** One or more sentences; with several recurrent models, one line per model (separated by '\n'). */
  summary: string;
  numbers: Record<string, number | null>;
}

const fmt = (x: number | null | undefined, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));
const noData = (what: string): Verdict => ({ status: 'no-data', summary: `Not enough data: ${what}`, numbers: {} });
const LABEL: Record<Arch, string> = { mamba: 'Mamba', mamba2: 'Mamba-2', transformer: 'Transformer' };

/** The recurrent models (Mamba, Mamba-2) with points, in ARCHS order; Mamba when neither has any. */
export function recurrentIn(points: { arch: Arch }[]): Arch[] {
  const present = RECURRENT.filter((a) => points.some((p) => p.arch === a));
  return present.length ? present : ['mamba'];
}

const ARCH_KEY = /^(mamba2|mamba|transformer)[A-Z]/;

/**
 * A claim about the recurrent models vs attention, judged for each recurrent model measured (Mamba, Mamba-2) against
 * the Transformer. One model judged: its verdict as it is. Several: the same status when they agree, else
 * inconclusive with a line saying for which the claim holds; each model's summary on a line of its own; numbers keyed
 * by model (`mamba2Exponent`; keys naming no model prefixed, `mamba2.crossoverLength`).
 */
function perRecurrent(points: { arch: Arch }[], judge: (ssm: Arch) => Verdict): Verdict {
  const all = recurrentIn(points).map((a) => [a, judge(a)] as const);
  const judged = all.filter(([, v]) => v.status !== 'no-data');
  if (judged.length <= 1) return (judged[0] ?? all[0])[1];
  const statuses = new Set(judged.map(([, v]) => v.status));
  const agree = statuses.size === 1;
  const who = (st: VerdictStatus) => judged.filter(([, v]) => v.status === st).map(([a]) => LABEL[a]).join(' and ');
  const mixed = [
    who('supported') && `holds for ${who('supported')}`,
    who('contradicted') && `does not hold for ${who('contradicted')}`,
    who('inconclusive') && `is inconclusive for ${who('inconclusive')}`,
  ].filter(Boolean).join('; ');
  const numbers: Record<string, number | null> = {};
  for (const [a, v] of judged) for (const [k, x] of Object.entries(v.numbers)) numbers[ARCH_KEY.test(k) ? k : `${a}.${k}`] = x;
  return {
    status: agree ? judged[0][1].status : 'inconclusive',
    summary: [...(agree ? [] : [`The claim ${mixed}.`]), ...judged.map(([, v]) => v.summary)].join('\n'),
    numbers,
  };
}

/** "Mamba's prefill is linear in context length; attention's is quadratic" (each recurrent model vs the Transformer). */
export function verdictPrefillScaling(points: SweepPoint[]): Verdict {
  return perRecurrent(points, (s) => {
    const m = prefillExponent(points, s);
    const t = prefillExponent(points, 'transformer');
    if (!m || !t) return noData('needs at least 3 context lengths measured for both models.');
    const N = LABEL[s];
    const numbers = { [`${s}Exponent`]: m.exponent, transformerExponent: t.exponent };
    const str = `Prefill time grows as L^${fmt(m.exponent)} for ${N} and L^${fmt(t.exponent)} for the Transformer over the longer half of the lengths measured.`;
    if (m.exponent <= 1.25 && t.exponent >= 1.2 && t.exponent >= m.exponent + 0.15) return { status: 'supported', summary: `${str} ${N} is near-linear; attention grows faster.`, numbers };
    if (t.exponent <= m.exponent + 0.05) return { status: 'contradicted', summary: `${str} At these lengths attention does not grow faster than ${N}.`, numbers };
    return { status: 'inconclusive', summary: `${str} The gap is small at these lengths; try longer contexts.`, numbers };
  });
}

/** "Mamba's memory is constant in context length; the KV cache grows" (each recurrent model's state vs the KV cache). */
export function verdictMemory(points: SweepPoint[]): Verdict {
  return perRecurrent(points, (s) => {
    const m = byArch(points, s).sort((a, b) => a.length - b.length);
    const t = byArch(points, 'transformer').sort((a, b) => a.length - b.length);
    if (m.length < 2 || t.length < 2) return noData('needs at least 2 context lengths for both models.');
    const N = LABEL[s];
    const mRatio = m[m.length - 1].stateBytes / Math.max(1, m[0].stateBytes);
    const tFit = fitPowerLaw(t.map((p) => p.length), t.map((p) => p.stateBytes));
    const tRatio = t[t.length - 1].stateBytes / Math.max(1, t[0].stateBytes);
    const lenRatio = t[t.length - 1].length / t[0].length;
    const numbers = { [`${s}StateGrowth`]: mRatio, [`${s}StateBytes`]: m[m.length - 1].stateBytes, transformerStateGrowth: tRatio, transformerExponent: tFit?.exponent ?? null, lengthGrowth: lenRatio };
    const str = `From L=${m[0].length} to ${m[m.length - 1].length}: ${N}'s state memory changed ×${fmt(mRatio)}, the Transformer's KV cache ×${fmt(tRatio)} (length ×${fmt(lenRatio, 0)}).`;
    if (mRatio < 1.05 && (tFit?.exponent ?? 0) > 0.8) return { status: 'supported', summary: `${str} Constant vs linear growth.`, numbers };
    if (mRatio >= 1.05 && tRatio <= mRatio) return { status: 'contradicted', summary: str, numbers };
    return { status: 'inconclusive', summary: str, numbers };
  });
}

/** "Mamba's decode speed is flat in context length; attention's falls" (each recurrent model vs the Transformer). */
export function verdictDecode(points: SweepPoint[]): Verdict {
  return perRecurrent(points, (s) => {
    const m = byArch(points, s).filter((p) => p.decodeTokPerS).sort((a, b) => a.length - b.length);
    const t = byArch(points, 'transformer').filter((p) => p.decodeTokPerS).sort((a, b) => a.length - b.length);
    if (m.length < 2 || t.length < 2) return noData('needs decode measured at 2 or more lengths for both models.');
    const N = LABEL[s];
    const mRatio = m[m.length - 1].decodeTokPerS! / m[0].decodeTokPerS!;
    const tRatio = t[t.length - 1].decodeTokPerS! / t[0].decodeTokPerS!;
    const numbers = { [`${s}SpeedRatio`]: mRatio, transformerSpeedRatio: tRatio };
    const str = `Decode tokens/s at the longest vs the shortest length: ${N} ×${fmt(mRatio)}, Transformer ×${fmt(tRatio)}.`;
    if (mRatio >= 0.8 && tRatio <= mRatio - 0.1) return { status: 'supported', summary: `${str} ${N} stays flat; attention slows as the cache grows.`, numbers };
    if (tRatio >= mRatio - 0.02) return { status: 'contradicted', summary: `${str} Attention's decode did not slow more than ${N}'s at these lengths.`, numbers };
    return { status: 'inconclusive', summary: str, numbers };
  });
}

/** "Attention is cheaper for short contexts" (the crossover of each recurrent model with the Transformer). */
export function verdictCrossover(points: SweepPoint[]): Verdict {
  return perRecurrent(points, (s) => {
    const m = byArch(points, s);
    const t = byArch(points, 'transformer');
    if (m.length < 2 || t.length < 2) return noData('needs at least 2 context lengths for both models.');
    const lengths = m.map((p) => p.length).filter((l) => t.some((q) => q.length === l)).sort((a, b) => a - b);
    if (!lengths.length) return noData('no context length measured for both models.');
    const N = LABEL[s];
    const at = (arch: Arch, l: number) => points.find((p) => p.arch === arch && p.length === l)!.prefillMs;
    const shortest = lengths[0];
    const tFasterShort = at('transformer', shortest) < at(s, shortest);
    const x = crossover(points, undefined, s);
    const numbers = { crossoverLength: x?.length ?? null, shortest, [`${s}MsShort`]: at(s, shortest), transformerMsShort: at('transformer', shortest) };
    if (tFasterShort && x && x.transformerFasterBelow) {
      return { status: 'supported', summary: `The Transformer prefills faster than ${N} below about L=${x.length}; ${N} is faster above it.`, numbers };
    }
    if (tFasterShort) {
      return { status: 'supported', summary: `The Transformer is faster than ${N} at every length measured (up to L=${lengths[lengths.length - 1]}); no crossover yet.`, numbers };
    }
    if (x && !x.transformerFasterBelow) {
      return { status: 'contradicted', summary: `${N} is faster at short lengths; the Transformer overtakes it near L=${x.length}.`, numbers };
    }
    return { status: 'contradicted', summary: `${N} prefills faster at every length measured, including the shortest (L=${shortest}).`, numbers };
  });
}

/** "Attention recalls any detail; a fixed state forgets" (passkey accuracy of each recurrent model vs the Transformer). */
export function verdictRecall(all: RecallPoint[]): Verdict {
  const points = all.filter((p) => p.probe === 'passkey');
  return perRecurrent(points, (s) => {
    const m = points.filter((p) => p.arch === s);
    const t = points.filter((p) => p.arch === 'transformer');
    if (!m.length || !t.length) return noData('run the passkey probes for both models.');
    const N = LABEL[s];
    const maxL = Math.max(...points.map((p) => p.length));
    const accAt = (ps: RecallPoint[]) => {
      const q = ps.filter((p) => p.length === maxL);
      return q.length ? q.reduce((sum, p) => sum + p.score, 0) / q.length : NaN;
    };
    const mAcc = m.reduce((sum, p) => sum + p.score, 0) / m.length;
    const tAcc = t.reduce((sum, p) => sum + p.score, 0) / t.length;
    const mLong = accAt(m);
    const tLong = accAt(t);
    const numbers = { [`${s}Accuracy`]: mAcc, transformerAccuracy: tAcc, [`${s}AccuracyLongest`]: mLong, transformerAccuracyLongest: tLong, longest: maxL };
    const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '—');
    const str = `Recall accuracy: Transformer ${pct(tAcc)}, ${N} ${pct(mAcc)} overall; at L=${maxL}: ${pct(tLong)} vs ${pct(mLong)}.`;
    if (tAcc >= mAcc + 0.15 || (Number.isFinite(tLong) && tLong >= mLong + 0.2)) return { status: 'supported', summary: `${str} Attention recalls more.`, numbers };
    if (mAcc >= tAcc - 0.05) return { status: 'contradicted', summary: `${str} The fixed state recalled as well as attention here.`, numbers };
    return { status: 'inconclusive', summary: str, numbers };
  });
}

/**
 * "A fixed-size state must forget" (multikey capacity, beside passkey): as the number of facts K to hold grows, does
 * the recurrent model's recall fall while attention's holds? Compared at one length (capacityLength) between the
 * smallest and the largest K measured there for both models; passkey at the longest length is reported beside it
 * (forgetting by distance). Each recurrent model (Mamba, Mamba-2: 8× Mamba's state per channel at the AntonV sizes) is
 * judged against the Transformer.
 */
export function verdictForget(points: RecallPoint[]): Verdict {
  return perRecurrent(points, (s) => {
    const at = capacityLength(points, [s, 'transformer']);
    if (!at) return noData('run the multikey probes for both models at 2 or more K values at one length.');
    const N = LABEL[s];
    const kMin = at.keys[0];
    const kMax = at.keys[at.keys.length - 1];
    const acc = (arch: Arch, k: number) => capacityByKeys(points, arch, at.length).find((c) => c.keys === k)!.score;
    const mLo = acc(s, kMin);
    const mHi = acc(s, kMax);
    const tLo = acc('transformer', kMin);
    const tHi = acc('transformer', kMax);
    const pk = points.filter((p) => p.probe === 'passkey');
    const pkL = pk.length ? Math.max(...pk.map((p) => p.length)) : null;
    const pkAt = (arch: Arch) => (pkL === null ? null : recallByLength(pk, arch, 'passkey').find((r) => r.length === pkL)?.score ?? null);
    const pm = pkAt(s);
    const pt = pkAt('transformer');
    const numbers = {
      length: at.length, kMin, kMax, [`${s}AtKMin`]: mLo, [`${s}AtKMax`]: mHi, transformerAtKMin: tLo, transformerAtKMax: tHi,
      passkeyLength: pkL, [`${s}Passkey`]: pm, transformerPasskey: pt,
    };
    const pct = (x: number | null) => (x !== null && Number.isFinite(x) ? `${Math.round(x * 100)}%` : '—');
    const facts = (k: number) => `${k} fact${k === 1 ? '' : 's'}`;
    let str = `At L=${at.length}, from ${facts(kMin)} to ${facts(kMax)}: ${N} ${pct(mLo)} → ${pct(mHi)}, Transformer ${pct(tLo)} → ${pct(tHi)}.`;
    if (pkL !== null && (pm !== null || pt !== null)) str += ` Passkey (one fact) at L=${pkL}: ${N} ${pct(pm)}, Transformer ${pct(pt)}.`;
    if (Math.max(mLo, tLo) < 0.5) {
      return { status: 'inconclusive', summary: `${str} Neither model recalls even ${facts(kMin)} reliably here, so capacity cannot be judged.`, numbers };
    }
    if (mLo < 0.5) {
      return { status: 'inconclusive', summary: `${str} ${N} does not recall even ${facts(kMin)} here: a failure to retrieve at all, not a capacity limit.`, numbers };
    }
    const mDrop = mLo - mHi;
    if (mDrop >= 0.25 && tHi >= mHi + 0.2) {
      return { status: 'supported', summary: `${str} The fixed-size state loses facts as K grows; attention keeps more of them.`, numbers };
    }
    if (mHi >= tHi - 0.05) {
      if (mDrop >= 0.25) return { status: 'inconclusive', summary: `${str} Both models lose facts as K grows: attention forgets as much at this size.`, numbers };
      return { status: 'contradicted', summary: `${str} The fixed-size state held ${facts(kMax)} as well as attention did.`, numbers };
    }
    return { status: 'inconclusive', summary: str, numbers };
  });
}
