/**
 * What bounds each measurement, in words (src/roofline/): a bound line under a Compare card, the "What bounds it"
 * card of the Scaling tab, the "decided by" line of a claim, and the calibration in the adapter chip.
 */
import type { ReactNode } from 'react';
import type { Calibration } from '../../roofline/calibrate';
import { ARCHS, type Arch } from '../../models/types';
import type { SweepPoint } from '../../recall/types';
import type { ClaimBound, RooflinePhase } from '../../roofline/claims';
import { boundSeries, changesSentence } from '../../roofline/claims';
import type { Roofline } from '../../roofline/floors';
import { boundSentence, fmtBandwidth, fmtBytes, fmtFlops, fmtThroughput, fmtTime } from '../../roofline/words';
import { useStore } from '../../store/store';
import { ARCH_LABEL } from '../controller';
import { ArchDot, Card } from './ui';

const PHASE_LABEL: Record<RooflinePhase, string> = { prefill: 'Prefill', decode: 'Decode (per token)' };

/** The three floors and the counts behind them, for a tooltip. */
export function floorsTitle(r: Roofline): string {
  const f = r.floors;
  return [
    `${r.phase === 'decode' ? `one token at L = ${r.context}` : `${r.tokens} tokens in ${r.passes} pass${r.passes === 1 ? '' : 'es'}`}`,
    `bandwidth floor: ${fmtBytes(r.bytes.total)} (weights ${fmtBytes(r.bytes.weights)}, ${r.mixer === 'attention' ? 'KV cache' : 'state'} ${fmtBytes(r.bytes.state)}, activations ${fmtBytes(r.bytes.activations)}) / ${fmtBandwidth(r.rates.copyGBps)} = ${fmtTime(f.bandwidthMs)}`,
    `compute floor: ${fmtFlops(r.flops.total)} (matmuls ${fmtFlops(r.flops.matmul)}, ${r.mixer} ${fmtFlops(r.flops.mixer)}) / ${fmtThroughput(r.rates.matmulGflops)} = ${fmtTime(f.computeMs)}`,
    `dispatch floor: ${r.dispatches} dispatches × ${fmtTime(r.rates.dispatchUs / 1e3)} = ${fmtTime(f.dispatchMs)}`,
    r.measuredMs !== null ? `measured: ${fmtTime(r.measuredMs)} (${r.timing === 'gpu' ? 'GPU timestamps' : 'wall clock'}), ${r.gap?.toFixed(2)}× the largest floor` : '',
  ].filter(Boolean).join('\n');
}

/** "Prefill: dispatch-bound: 290 dispatches × 6.6 µs = 1.9 ms; measured 2.1 ms of GPU time, 1.1× the floor." */
export function BoundLine({ r, phase, testId }: { r: Roofline | null | undefined; phase: RooflinePhase; testId?: string }) {
  if (!r) return null;
  return (
    <p className="bound-line fine" data-testid={testId} data-bound={r.bound} title={floorsTitle(r)}>
      <b>{PHASE_LABEL[phase]}</b>: {boundSentence(r)}.
    </p>
  );
}

/** The calibration as the adapter chip shows it, and its details as a tooltip. */
export function calibrationText(c: Calibration): { short: string; title: string } {
  const ts = c.timestamps.available
    ? `timestamps available, rounded to ${c.timestamps.quantumUs === null ? '?' : fmtTime(c.timestamps.quantumUs / 1e3)}`
    : 'no timestamps (times are wall clock)';
  return {
    short: `${fmtBandwidth(c.copyGBps)} · ${fmtTime(c.dispatchUs / 1e3)}/dispatch · ${fmtThroughput(c.matmulGflops)}`,
    title: [
      'Measured on this adapter when the page started (the floors under every measurement):',
      `copy bandwidth ${fmtBandwidth(c.copyGBps)} (vec4 copy of ${fmtBytes(c.shapes.copyBytes)}, read + write)`,
      `one dependent dispatch ${fmtTime(c.dispatchUs / 1e3)} (a chain of ${c.shapes.chain} tiny dispatches)`,
      `f32 matmul ${fmtThroughput(c.matmulGflops)} (our kernel, ${c.shapes.matmul}³)`,
      ts,
      `timed by: copy ${c.timing.copy}, dispatch ${c.timing.dispatch}, matmul ${c.timing.matmul}; took ${fmtTime(c.ms)}`,
    ].join('\n'),
  };
}

/** The chip's tag: the three rates, or "measuring…" until they are in. */
export function CalibrationTag() {
  const c = useStore((s) => s.calibration);
  if (!c) {
    return (
      <span className="chip-tag calibration-tag" data-testid="gpu-calibration" data-state="pending" title="Measuring copy bandwidth, dispatch cost and matmul throughput">
        measuring…
      </span>
    );
  }
  const t = calibrationText(c);
  return (
    <span className="chip-tag calibration-tag" data-testid="gpu-calibration" data-state="done" title={t.title}>
      {t.short}
    </span>
  );
}

/** Scaling: for each model and phase, the bound along the lengths measured and the latest length's floors. */
export function ScalingBounds({ points }: { points: SweepPoint[] }) {
  const with_ = points.filter((p) => p.roofline);
  if (!with_.length) return null;
  const archs = ARCHS.filter((a) => with_.some((p) => p.arch === a));
  const line = (arch: Arch, phase: RooflinePhase): ReactNode => {
    const s = boundSeries(with_, arch, phase);
    if (!s.length) return null;
    const last = s[s.length - 1];
    return <BoundLine r={last.r} phase={phase} testId={`scaling-bound-${phase}-${arch}`} />;
  };
  return (
    <Card title="What bounds it" testId="scaling-bounds">
      <p className="fine">
        Each point set against its three floors on this GPU: bytes / copy bandwidth, FLOPs / matmul throughput, dispatches × one dispatch's cost. The largest floor
        is the bound (dashed lines in the charts); the gap is measured / bound. Hover a line for the numbers.
      </p>
      {archs.map((a) => (
        <div key={a} className="bound-block" data-testid={`scaling-bound-${a}`}>
          <div>
            <ArchDot arch={a} /> <b>{ARCH_LABEL[a]}</b> at L = {Math.max(...with_.filter((p) => p.arch === a).map((p) => p.length)).toLocaleString('en-US')}
          </div>
          {line(a, 'prefill')}
          {line(a, 'decode')}
        </div>
      ))}
      {(['prefill', 'decode'] as RooflinePhase[]).map((ph) => {
        const t = changesSentence(with_, ph);
        return t ? (
          <p className="fine" key={ph} data-testid={`scaling-bound-changes-${ph}`}>
            <b>{PHASE_LABEL[ph]} along L</b>: {t}
          </p>
        ) : null;
      })}
    </Card>
  );
}

/** A claim's "decided by" line. */
export function ClaimBoundLine({ id, b }: { id: string; b: ClaimBound | null }) {
  if (!b) return null;
  return (
    <p className="claim-bound fine" data-testid={`claim-bound-${id}`} data-decider={b.decider ?? ''}>
      {b.text}
    </p>
  );
}
