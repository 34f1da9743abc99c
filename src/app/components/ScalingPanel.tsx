/** Scaling: prefill time, decode speed and memory vs context length, one series per model (two, or all three), live as
 *  the sweep runs. */
import { memo } from 'react';
import { ARCHS, RECURRENT } from '../../models/types';
import { crossover, prefillExponent } from '../../recall/analysis';
import type { SweepPoint } from '../../recall/types';
import { useShallow } from 'zustand/react/shallow';
import type { KernelChoice } from '../../models/kernel-choice';
import { activeSlots, useActiveSlots, patchSettings, useStore, type LimitNote, type RunMeta } from '../../store/store';
import { ARCH_LABEL, cancelJob, listWords, pushMemoryCap, runSweep, sweepLengths } from '../controller';
import { COLORS, fmtBytes, fmtLen, fmtMs, fmtRate, fmtTick } from '../format';
import { ArchLineChart, ChartFigure, type Marker, type Series } from './charts';
import { ArchDot, Card, Notice, NumberField, Progress, RunButton } from './ui';
import { ScalingBounds } from './Roofline';

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

/** The state each length needed, per architecture: a recurrent model's fixed state (its largest over the lengths), the
 *  Transformer's KV cache per token of context (its growth between the shortest and the longest length). */
export function statePerArch(points: SweepPoint[]): { arch: SweepPoint['arch']; text: string }[] {
  return ARCHS.flatMap((a): { arch: SweepPoint['arch']; text: string }[] => {
    const ps = points.filter((p) => p.arch === a).sort((x, y) => x.length - y.length);
    if (!ps.length) return [];
    if (a !== 'transformer') return [{ arch: a, text: `${ARCH_LABEL[a]} ${fmtBytes(Math.max(...ps.map((p) => p.stateBytes)))} at any length` }];
    const first = ps[0], last = ps[ps.length - 1];
    const perToken = last.length > first.length ? (last.stateBytes - first.stateBytes) / (last.length - first.length) : null;
    return [{ arch: a, text: `Transformer ${fmtBytes(last.stateBytes)} at L = ${fmtLen(last.length)}${perToken ? ` (${fmtBytes(perToken)} per token)` : ''}` }];
  });
}

/** Memoized: re-renders only when the points change (not on progress events). */
export const ScalingCharts = memo(function ScalingCharts({ points, prefix = 'scaling' }: { points: SweepPoint[]; prefix?: string }) {
  // a crossover per recurrent model measured (Mamba, Mamba-2) with the Transformer
  const ssms = RECURRENT.filter((a) => points.some((p) => p.arch === a));
  const crossings = ssms.flatMap((a) => {
    const x = crossover(points, undefined, a);
    return x ? [{ arch: a, ...x }] : [];
  });
  const markers: Marker[] = crossings.map((x) => ({
    x: x.length,
    label: `${ssms.length > 1 ? `${ARCH_LABEL[x.arch]} ` : ''}crossover ≈ ${fmtLen(x.length)}`,
    color: ssms.length > 1 ? COLORS[x.arch] : undefined,
  }));
  const exps = ARCHS.flatMap((a) => {
    const e = prefillExponent(points, a);
    return e ? [{ arch: a, exponent: e.exponent }] : [];
  });
  const states = statePerArch(points);
  const n = points.length;
  const L = 'context length (tokens)';
  return (
    <div className="chart-grid">
      <ChartFigure
        title="Prefill time vs context length"
        name={`${prefix}-prefill`}
        points={n}
        note={
          <>
            {points.some((p) => p.roofline?.prefill) && <span>Dashed: each model’s largest floor. </span>}
            {exps.map((e, i) => (
              <span key={e.arch} data-testid={`exponent-${e.arch}`}>
                {i > 0 && '· '}
                {ARCH_LABEL[e.arch]} ∝ L<sup>{e.exponent.toFixed(2)}</sup>{' '}
              </span>
            ))}
            {crossings.map((x) => (
              <span key={x.arch} data-testid={ssms.length > 1 ? `crossover-${x.arch}` : 'crossover'}>
                · {ssms.length > 1 ? `${ARCH_LABEL[x.arch]} ` : ''}crossover at L ≈ {fmtLen(x.length)} (
                {x.transformerFasterBelow ? 'attention faster below' : `${ARCH_LABEL[x.arch]} faster below`}){' '}
              </span>
            ))}
          </>
        }
      >
        <ArchLineChart
          series={[...series(points, (p) => p.prefillMs), ...floorSeries(points, (p) => p.roofline?.prefill?.boundMs ?? null)]}
          xLabel={L}
          yLabel="prefill time, log scale"
          yQuantity="time"
          logX
          logY
          markers={markers}
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
          xLabel={L}
          yLabel="new tokens per second"
          logX
          yFormat={fmtTick}
        />
      </ChartFigure>
      <ChartFigure
        title="Sequence memory vs context length (KV cache / SSM state)"
        name={`${prefix}-state-memory`}
        points={n}
        note={
          <>
            What each length needed: the KV cache for its tokens, or a recurrent model's fixed state. The same on a fresh page and after longer runs.
            {states.length > 0 && <span data-testid="state-per-arch"> State: {states.map((s) => s.text).join(' · ')}.</span>}
          </>
        }
      >
        <ArchLineChart series={series(points, (p) => p.stateBytes)} xLabel={L} yLabel="KV cache / state" yQuantity="bytes" logX />
      </ChartFigure>
      <ChartFigure title="Total GPU memory vs context length" name={`${prefix}-total-memory`} points={n} note="Weights + sequence memory + the activations of the widest pass, for that length.">
        <ArchLineChart series={series(points, (p) => p.totalBytes)} xLabel={L} yLabel="total" yQuantity="bytes" logX />
      </ChartFigure>
    </div>
  );
});

/** "Measured with …": the kernels and settings a run recorded when it started; flags kernel toggles changed since. */
export function RunMetaLine({ meta, what, testId, kernels }: { meta: RunMeta | null; what: string; testId?: string; kernels?: KernelChoice }) {
  const now = useStore((s) => s.settings);
  const loaded = useStore(useShallow((s) => ARCHS.map((a) => s.slots[a].info?.name ?? null)));
  if (!meta) return null;
  const s = meta.settings;
  // the kernels the results recorded, else those the run started with
  const k = kernels ?? { scan: s.scan, attention: s.attn };
  const parts = [`Mamba scan: ${k.scan}`, `attention: ${k.attention}`];
  if (s.sweepMin !== undefined) {
    parts.push(`L ${fmtLen(s.sweepMin)}–${fmtLen(s.sweepMax ?? s.sweepMin)} (× ${s.sweepFactor})`, `${s.sweepDecode} decode tokens`, `best of ${s.sweepRepeats}`);
    if (s.memCap) parts.push(`memory cap ${s.memCap} MiB`);
  }
  if (s.lengths && s.probes) parts.push(`probes ${s.probes.join(', ')}`, `L ${s.lengths.map(fmtLen).join(', ')}`, `depths ${s.depths?.join(', ')}`, `${s.trials} trial(s)`);
  if (s.keys && s.probes?.includes('multikey')) parts.push(`K ${s.keys.join(', ')}`);
  if (s.arch && s.arch !== 'both') parts.push(`${s.arch} only`);
  const changed = k.scan !== now.scan || k.attention !== now.attn;
  const names = Object.values(meta.models ?? {});
  const otherModels = names.some((n) => !loaded.includes(n));
  return (
    <p className="fine run-meta" data-testid={testId}>
      {what} measured{names.length ? ` on ${listWords(names)}` : ''} with {parts.join(' · ')} · started {new Date(meta.startedAt).toLocaleTimeString()}.
      {changed && <b> The kernel toggles have changed since: run again to measure the new choice.</b>}
      {otherModels && <b> The loaded models have changed since.</b>}
    </p>
  );
}

/** Lengths past what a loaded model was trained on: a warning, not a refusal. */
export function ContextWarning({ lengths, testId = 'context-warning' }: { lengths: number[]; testId?: string }) {
  const models = useStore(useShallow((s) => activeSlots(s).map((a) => s.slots[a].info!)));
  const over = models.filter((i) => i.trainedContext && lengths.some((l) => l > i.trainedContext!));
  if (!over.length) return null;
  return (
    <Notice kind="warn" testId={testId}>
      Lengths past training: {over.map((i) => `${i.name} was trained on ≤ ${i.trainedContext!.toLocaleString('en-US')} tokens`).join('; ')}. Beyond that its
      output may degrade (speed and memory are still measured). The run goes ahead.
    </Notice>
  );
}

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
  const why = !ready.length ? 'Load a model pair first (above)' : !lengths.length ? 'Set lengths: From L up to To L' : null;
  return (
    <div className="panel" data-testid="panel-scaling">
      <Card
        title="Context-length sweep"
        actions={
          <RunButton running={sweep.running} label="Run sweep" onRun={() => void runSweep()} onCancel={() => cancelJob('sweep')} disabled={!!why} why={why} testId="run-sweep" />
        }
      >
        <div className="row gap wrap">
          <NumberField label="From L" value={settings.sweepMin} min={1} onChange={(sweepMin) => patchSettings({ sweepMin })} testId="sweep-min" help="Shortest context, in tokens" />
          <NumberField label="To L" value={settings.sweepMax} min={1} onChange={(sweepMax) => patchSettings({ sweepMax })} testId="sweep-max" help="Longest context, in tokens" />
          <NumberField label="× per step" value={settings.sweepFactor} min={1.1} step={0.5} onChange={(sweepFactor) => patchSettings({ sweepFactor })} help="Each length is this many times the last" />
          <NumberField label="Decode tokens" value={settings.sweepDecode} min={0} max={256} onChange={(sweepDecode) => patchSettings({ sweepDecode })} testId="sweep-decode" help="New tokens timed after each prefill (0 = none)" />
          <NumberField label="Repeats" value={settings.sweepRepeats} min={1} max={10} onChange={(sweepRepeats) => patchSettings({ sweepRepeats })} help="Runs per length; the fastest counts" />
          <NumberField
            label="GPU memory cap (MiB)"
            title="Act like a smaller GPU: allocations past this many MiB fail as out of memory, and the sweep stops there"
            help="Act like a smaller GPU (0 = this GPU's own)"
            value={settings.memCap}
            min={0}
            step={64}
            onChange={(memCap) => { patchSettings({ memCap: Math.max(0, memCap) }); void pushMemoryCap(); }}
            testId="mem-cap"
          />
        </div>
        <p className="fine">
          Lengths: {lengths.map(fmtLen).join(' · ') || '—'}. Each point prefills L random tokens (fastest of the repeats), then decodes. A model that runs out of
          memory or hits a device limit stops at the largest length that fit; the others continue.
        </p>
        <p className="fine" data-testid="prefill-path">
          The prefill takes each layer over the whole context in one pass (several for contexts whose activations would pass 512 MiB or the GPU's buffer
          limits), so Mamba runs the long-context scan the Benchmarks tab measures; activations therefore grow with L up to that budget.
        </p>
        <ContextWarning lengths={lengths} />
        {(sweep.running || sweep.progress) && sweep.progress && (
          <Progress done={sweep.progress.done} total={sweep.progress.total} label={sweep.running ? sweep.progress.label : sweep.cancelled ? 'cancelled' : 'finished'} testId="sweep-progress" />
        )}
        {sweep.error && <Notice kind="error">{sweep.error}</Notice>}
        <LimitNotes limits={sweep.limits} />
        <RunMetaLine meta={sweep.meta} what={sweep.running ? 'Being' : 'These results were'} testId="sweep-meta" kernels={sweep.points[0]?.kernels} />
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
                  <th title="KV cache for the tokens of this length (Transformer) or the fixed state (Mamba)">KV / state</th>
                  <th title="Activations of the widest pass at this length">Activations</th>
                  <th title="Weights + KV / state + activations">Total</th>
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
