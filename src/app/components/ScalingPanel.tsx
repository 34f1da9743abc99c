/** Scaling: prefill time, decode speed and memory vs context length for both models, live as the sweep runs. */
import { memo } from 'react';
import type { Arch } from '../../models/types';
import { crossover, prefillExponent } from '../../recall/analysis';
import type { SweepPoint } from '../../recall/types';
import { useActiveSlots, patchSettings, useStore, type LimitNote } from '../../store/store';
import { ARCH_LABEL, cancelJob, pushMemoryCap, runSweep, sweepLengths } from '../controller';
import { fmtBytes, fmtLen, fmtMs, fmtRate } from '../format';
import { ArchLineChart, ChartFigure, type Series } from './charts';
import { ArchDot, Card, Notice, NumberField, Progress, RunButton } from './ui';
import { ScalingBounds } from './Roofline';

const ARCHS: Arch[] = ['mamba', 'transformer'];

function series(points: SweepPoint[], y: (p: SweepPoint) => number | null): Series[] {
  return ARCHS.map((arch) => ({
    arch,
    points: points.filter((p) => p.arch === arch).map((p) => ({ x: p.length, y: y(p) })),
  })).filter((s) => s.points.length);
}

/** Each model's floor (its largest: src/roofline/) at the lengths measured, as dashed series. */
function floorSeries(points: SweepPoint[], y: (p: SweepPoint) => number | null): Series[] {
  return series(points.filter((p) => p.roofline), y).map((s) => ({ ...s, floor: true }));
}

/** Memoized: re-renders only when the points change (not on progress events). */
export const ScalingCharts = memo(function ScalingCharts({ points, prefix = 'scaling' }: { points: SweepPoint[]; prefix?: string }) {
  const x = crossover(points);
  const marker = x ? { x: x.length, label: `crossover ≈ ${fmtLen(x.length)}` } : null;
  const mExp = prefillExponent(points, 'mamba');
  const tExp = prefillExponent(points, 'transformer');
  const n = points.length;
  return (
    <div className="chart-grid">
      <ChartFigure
        title="Prefill time vs context length"
        name={`${prefix}-prefill`}
        points={n}
        note={
          <>
            {points.some((p) => p.roofline?.prefill) && <span>Dashed: each model’s largest floor. </span>}
            {mExp && <span>Mamba ∝ L<sup>{mExp.exponent.toFixed(2)}</sup> </span>}
            {tExp && <span>· Transformer ∝ L<sup>{tExp.exponent.toFixed(2)}</sup> </span>}
            {x && (
              <span data-testid="crossover">
                · crossover at L ≈ {fmtLen(x.length)} ({x.transformerFasterBelow ? 'attention faster below' : 'Mamba faster below'})
              </span>
            )}
          </>
        }
      >
        <ArchLineChart
          series={[...series(points, (p) => p.prefillMs), ...floorSeries(points, (p) => p.roofline?.prefill?.boundMs ?? null)]}
          xLabel="context length (tokens)"
          yLabel="prefill ms"
          logX
          logY
          yFormat={fmtMs}
          marker={marker}
        />
      </ChartFigure>
      <ChartFigure
        title="Decode speed vs context length"
        name={`${prefix}-decode`}
        points={points.filter((p) => p.decodeTokPerS).length}
        note={points.some((p) => p.roofline?.decode) ? 'Dashed: the tokens/s each model’s largest floor allows on this GPU.' : undefined}
      >
        <ArchLineChart
          series={[...series(points, (p) => p.decodeTokPerS), ...floorSeries(points, (p) => (p.roofline?.decode ? 1e3 / p.roofline.decode.boundMs : null))]}
          xLabel="context length (tokens)"
          yLabel="tokens/s"
          logX
          yFormat={fmtRate}
        />
      </ChartFigure>
      <ChartFigure title="Sequence memory vs context length (KV cache / SSM state)" name={`${prefix}-state-memory`} points={n}>
        <ArchLineChart series={series(points, (p) => p.stateBytes)} xLabel="context length (tokens)" yLabel="bytes" logX yFormat={fmtBytes} />
      </ChartFigure>
      <ChartFigure title="Total GPU memory vs context length" name={`${prefix}-total-memory`} points={n}>
        <ArchLineChart series={series(points, (p) => p.totalBytes)} xLabel="context length (tokens)" yLabel="bytes" logX yFormat={fmtBytes} />
      </ChartFigure>
    </div>
  );
});

export function LimitNotes({ limits }: { limits: LimitNote[] }) {
  if (!limits.length) return null;
  return (
    <>
      {limits.map((l, i) => (
        <Notice kind="warn" key={i} testId="limit-note">
          <ArchDot arch={l.slot} /> <b>{ARCH_LABEL[l.slot]}</b>: {l.reason === 'out-of-memory' ? 'out of GPU memory' : l.reason === 'context' ? 'context limit' : l.reason} at L=
          {fmtLen(l.length)} — stopped at the largest length that fit ({l.lastOk === null ? 'none' : fmtLen(l.lastOk)}). {l.message}
        </Notice>
      ))}
    </>
  );
}

export function ScalingPanel() {
  const settings = useStore((s) => s.settings);
  const sweep = useStore((s) => s.sweep);
  const ready = useActiveSlots();
  const lengths = sweepLengths(settings);
  return (
    <div className="panel" data-testid="panel-scaling">
      <Card
        title="Context-length sweep"
        actions={
          <RunButton running={sweep.running} label="Run sweep" onRun={() => void runSweep()} onCancel={() => cancelJob('sweep')} disabled={!ready.length || !lengths.length} testId="run-sweep" />
        }
      >
        <div className="row gap wrap">
          <NumberField label="From L" value={settings.sweepMin} min={1} onChange={(sweepMin) => patchSettings({ sweepMin })} testId="sweep-min" />
          <NumberField label="To L" value={settings.sweepMax} min={1} onChange={(sweepMax) => patchSettings({ sweepMax })} testId="sweep-max" />
          <NumberField label="× per step" value={settings.sweepFactor} min={1.1} step={0.5} onChange={(sweepFactor) => patchSettings({ sweepFactor })} />
          <NumberField label="Decode tokens" value={settings.sweepDecode} min={0} max={256} onChange={(sweepDecode) => patchSettings({ sweepDecode })} testId="sweep-decode" />
          <NumberField label="Repeats" value={settings.sweepRepeats} min={1} max={10} onChange={(sweepRepeats) => patchSettings({ sweepRepeats })} />
          <NumberField
            label="GPU memory cap (MiB, 0 = none)"
            title="Act like a smaller GPU: allocations past this many MiB fail as out of memory, and the sweep stops there"
            value={settings.memCap}
            min={0}
            step={64}
            onChange={(memCap) => { patchSettings({ memCap: Math.max(0, memCap) }); void pushMemoryCap(); }}
            testId="mem-cap"
          />
        </div>
        <p className="fine">
          Lengths: {lengths.map(fmtLen).join(' · ') || '—'}. Each point prefills L random tokens (fastest of the repeats), then decodes. A model that runs out of
          memory or hits a device limit stops at the largest length that fit; the other continues.
        </p>
        <p className="fine" data-testid="prefill-path">
          The prefill takes each layer over the whole context in one pass (several for contexts whose activations would pass 512 MiB or the GPU's buffer
          limits), so Mamba runs the long-context scan the Benchmarks tab measures; activations therefore grow with L up to that budget.
        </p>
        {!ready.length && <p className="fine">Load a model pair above to run a sweep.</p>}
        {(sweep.running || sweep.progress) && sweep.progress && (
          <Progress done={sweep.progress.done} total={sweep.progress.total} label={sweep.running ? sweep.progress.label : sweep.cancelled ? 'cancelled' : 'finished'} testId="sweep-progress" />
        )}
        {sweep.error && <Notice kind="error">{sweep.error}</Notice>}
        <LimitNotes limits={sweep.limits} />
      </Card>
      <ScalingCharts points={sweep.points} />
      <ScalingBounds points={sweep.points} />
      <SweepTable points={sweep.points} />
    </div>
  );
}

const SweepTable = memo(function SweepTable({ points }: { points: SweepPoint[] }) {
  if (!points.length) return null;
  return (
        <Card title="Measurements">
          <div className="table-wrap">
            <table className="table" data-testid="sweep-table">
              <thead>
                <tr>
                  <th>Model</th>
                  <th>L</th>
                  <th>Prefill</th>
                  <th>Prefill tok/s</th>
                  <th>Decode tok/s</th>
                  <th>KV / state</th>
                  <th>Activations</th>
                  <th>Total</th>
                  <th title="The largest of the bandwidth, compute and dispatch floors (prefill / decode)">Bound</th>
                </tr>
              </thead>
              <tbody>
                {points.map((p, i) => (
                  <tr key={i}>
                    <td>
                      <ArchDot arch={p.arch} /> {ARCH_LABEL[p.arch]}
                    </td>
                    <td>{fmtLen(p.length)}</td>
                    <td>{fmtMs(p.prefillMs)}</td>
                    <td>{fmtRate(p.prefillTokPerS)}</td>
                    <td>{fmtRate(p.decodeTokPerS)}</td>
                    <td>{fmtBytes(p.stateBytes)}</td>
                    <td>{fmtBytes(p.memory.activations)}</td>
                    <td>{fmtBytes(p.totalBytes)}</td>
                    <td data-testid="sweep-bound">{[p.roofline?.prefill?.bound, p.roofline?.decode?.bound].filter(Boolean).join(' / ') || '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
  );
});
