/**
 * Claims check: each claim from the debate with a verdict measured on this GPU. With Mamba-2 loaded beside Mamba and
 * the Transformer, each recurrent model is judged against the Transformer (src/recall/analysis.ts) and every chart has
 * a series per model. A verdict reads the newest finished measurements of the loaded models that cover the claim, from the Scaling tab, the Recall lab or this tab's own runs
 * (claims-source), says which run it used, and shows no verdict while the run it depends on is still going.
 */
import type { ReactNode } from 'react';
import {
  capacityByKeys, capacityLength, crossover, recallByLength, verdictCrossover, verdictDecode, verdictForget, verdictMemory, verdictPrefillScaling, verdictRecall,
  type Verdict,
} from '../../recall/analysis';
import type { RecallPoint, SweepPoint } from '../../recall/types';
import { ARCHS, RECURRENT, type Arch } from '../../models/types';
import { useActiveSlots, useStore, type AppState, type RunRecord } from '../../store/store';
import { ARCH_LABEL, cancelJob, runClaims, sweepLengths } from '../controller';
import { pickRun, recallRuns, sweepRuns, type MeasuredRun, type PairKey } from '../claims-source';
import { COLORS, fmtBytes, fmtLen, fmtPct, fmtTick } from '../format';
import { ArchLineChart, ChartFigure, type Marker } from './charts';
import { ContextWarning, LimitNotes } from './ScalingPanel';
import { SkipNotes } from './RecallPanel';
import { Badge, Card, Notice, Progress, RunButton } from './ui';
import { ClaimBoundLine } from './Roofline';
import { decodeBound, memoryBound, prefillScalingBound, shortContextBound, type ClaimBound } from '../../roofline/claims';

const STATUS: Record<Verdict['status'] | 'running', { kind: 'ok' | 'bad' | 'warn' | 'muted' | 'info'; label: string }> = {
  supported: { kind: 'ok', label: 'Holds here' },
  contradicted: { kind: 'bad', label: 'Does not hold here' },
  inconclusive: { kind: 'warn', label: 'Inconclusive' },
  'no-data': { kind: 'muted', label: 'Not measured yet' },
  running: { kind: 'info', label: 'Measuring…' },
};

const FROM: Record<MeasuredRun<unknown>['from'], string> = { scaling: 'the Scaling tab’s sweep', recall: 'the Recall lab’s probes', claims: 'this tab’s run' };
/** Recall claims are about accuracy: no floor decides them. */
const RECALL_BOUND: ClaimBound = {
  decider: null,
  text: 'Not a speed claim: no floor decides it. Accuracy follows the architecture (what the state or cache can hold) and what these models were trained on.',
};

function sweepSeries(points: SweepPoint[], y: (p: SweepPoint) => number | null) {
  return ARCHS
    .map((arch) => ({ arch, points: points.filter((p) => p.arch === arch).map((p) => ({ x: p.length, y: y(p) })) }))
    .filter((s) => s.points.length);
}

/** The models with recall points of a probe (ARCHS order). */
function recallArchs(points: RecallPoint[], probe: RecallPoint['probe']): Arch[] {
  return ARCHS.filter((a) => points.some((p) => p.arch === a && p.probe === probe));
}

/** The length the capacity chart compares at: one all models share, else one the first recurrent model shares with
 *  the Transformer. */
function capacityAt(rc: RecallPoint[]): { length: number; keys: number[] } | null {
  const archs = recallArchs(rc, 'multikey');
  return capacityLength(rc, archs) ?? (archs.length > 2 ? capacityLength(rc, [archs[0], 'transformer']) : null);
}

/** A crossover marker per recurrent model (colored by model when there are two). */
function crossoverMarkers(p: SweepPoint[]): Marker[] {
  const ssms = RECURRENT.filter((a) => p.some((q) => q.arch === a));
  return ssms.flatMap((a) => {
    const x = crossover(p, undefined, a);
    return x ? [{ x: x.length, label: `${ssms.length > 1 ? `${ARCH_LABEL[a]} ` : ''}≈ ${fmtLen(x.length)}`, color: ssms.length > 1 ? COLORS[a] : undefined }] : [];
  });
}

/** "State each recurrent model carries: Mamba 2.4 MB, Mamba-2 19.4 MB": from the loaded models (null when none). */
function stateSizes(slots: AppState['slots']): string | null {
  const parts = RECURRENT.flatMap((a) => (slots[a].info ? [`${ARCH_LABEL[a]} ${fmtBytes(slots[a].info!.memory.ssmState)}`] : []));
  return parts.length ? parts.join(', ') : null;
}

/** Which run a verdict used (with no verdict, the newest run): where, when, and its settings (kernels, lengths, …). */
function describeRun(run: MeasuredRun<unknown>, kind: 'scaling' | 'recall', covers: boolean): string {
  const s = run.settings;
  const parts: string[] = [];
  if (kind === 'scaling') parts.push(`L ${fmtLen(s.sweepMin ?? 0)}–${fmtLen(s.sweepMax ?? 0)}`, `${s.sweepDecode ?? 0} decode tokens`);
  else {
    parts.push(`L ${(s.lengths ?? []).map(fmtLen).join(', ')}`, `depths ${(s.depths ?? []).join(', ')}`);
    if (run.from === 'claims' || s.probes?.includes('multikey')) parts.push(`K ${(s.keys ?? []).join(', ')}`);
  }
  // the kernels the points recorded, else those the run started with
  const k = (run.points[0] as { kernels?: { scan: string; attention: string } } | undefined)?.kernels ?? { scan: s.scan, attention: s.attn };
  parts.push(`Mamba scan ${k.scan}`, `attention ${k.attention}`);
  const when = `${FROM[run.from]} that finished at ${new Date(run.finishedAt).toLocaleTimeString()} (${parts.join(' · ')})`;
  return covers ? `From ${when}.` : `Newest measurements, not enough for a verdict: ${when}.`;
}

interface Judged<T> {
  verdict: Verdict;
  points: T[];
  /** The run the verdict read; with no verdict, the newest run (its points lack what the claim needs). */
  run: MeasuredRun<T> | null;
  running: boolean;
}

function judge<T>(runs: MeasuredRun<T>[], live: T[], running: boolean, verdict: (p: T[]) => Verdict): Judged<T> {
  if (running) return { verdict: { status: 'no-data', summary: '', numbers: {} }, points: live, run: null, running: true };
  const pick = pickRun(runs, verdict);
  if (pick) return { verdict: pick.verdict, points: pick.run.points, run: pick.run, running: false };
  // No run covers the claim: no verdict, but the newest run's points still show (chart, what bounds them), and the
  // verdict says what they lack.
  const latest = runs[0] ?? null;
  return { verdict: verdict(latest?.points ?? []), points: latest?.points ?? [], run: latest, running: false };
}

function Claim<T>(props: {
  id: string;
  claim: string;
  who: string;
  how: string;
  judged: Judged<T>;
  kind: 'scaling' | 'recall';
  chart: (points: T[]) => ReactNode;
  points: (points: T[]) => number;
  /** What decides it: the architecture, the implementation or model size (src/roofline/claims.ts), from the points
   *  the verdict read. */
  bound?: (points: T[]) => ClaimBound | null;
  /** A line under the verdict (e.g. the state sizes). */
  extra?: ReactNode;
}) {
  const claims = useStore((s) => s.claims);
  const canRun = useActiveSlots().length >= 2;
  const { judged } = props;
  const st = STATUS[judged.running ? 'running' : judged.verdict.status];
  return (
    <Card className="claim" testId={`claim-${props.id}`}>
      <div className="claim-head">
        <blockquote>“{props.claim}”</blockquote>
        <Badge kind={st.kind} testId={`claim-verdict-${props.id}`}>
          {st.label}
        </Badge>
      </div>
      <div className="muted small">{props.who}</div>
      <p className="claim-how">
        <b>Experiment:</b> {props.how}
      </p>
      <p className="claim-summary" data-status={judged.running ? 'running' : judged.verdict.status} data-testid={`claim-summary-${props.id}`}>
        {judged.running
          ? 'A run this claim depends on is still going: the verdict appears when it has finished.'
          : judged.verdict.status === 'no-data'
            ? `${judged.verdict.summary} Run it here, or in the ${props.kind === 'scaling' ? 'Scaling tab' : 'Recall lab'}: finished runs of the loaded pair count here.`
            : judged.verdict.summary}
      </p>
      {props.extra}
      {judged.run && (
        <p className="fine" data-testid={`claim-source-${props.id}`}>
          {describeRun(judged.run as MeasuredRun<unknown>, props.kind, judged.verdict.status !== 'no-data')}
        </p>
      )}
      {!judged.running && <ClaimBoundLine id={props.id} b={props.bound?.(judged.points) ?? null} />}
      <ChartFigure title={judged.running ? 'Measuring (live)' : 'Measured'} name={`claim-${props.id}`} points={props.points(judged.points)} height={190}>
        {props.chart(judged.points)}
      </ChartFigure>
      <div className="row">
        <span className="grow" />
        <RunButton
          running={claims.running}
          label={props.kind === 'scaling' ? 'Run the sweep' : 'Run the recall probes'}
          onRun={() => void runClaims(props.kind)}
          onCancel={() => cancelJob('claims')}
          disabled={!canRun}
          why={canRun ? null : CHOOSE_WHY}
          testId={`run-claim-${props.id}`}
        />
      </div>
    </Card>
  );
}

const CHOOSE_WHY = 'Load a pair (or three models) and choose them all: Both / All three';

function pairKey(slots: AppState['slots']): PairKey {
  return Object.fromEntries(ARCHS.map((a) => [a, slots[a].info?.source]));
}

export function ClaimsPanel() {
  const claims = useStore((s) => s.claims);
  const settings = useStore((s) => s.settings);
  const slots = useStore((s) => s.slots);
  const runs: RunRecord[] = useStore((s) => s.runs);
  const sweepJob = useStore((s) => s.sweep);
  const recallJob = useStore((s) => s.recall);
  const canRun = useActiveSlots().length >= 2;
  const pair = pairKey(slots);
  const states = stateSizes(slots);
  const sweeps = sweepRuns(runs, pair);
  const recalls = recallRuns(runs, pair);
  // A run in progress of the kind a claim reads: no verdict until it has finished.
  const scalingBusy = (claims.which !== null && claims.which !== 'recall') || sweepJob.running;
  const recallBusy = (claims.which !== null && claims.which !== 'scaling') || recallJob.running;
  const liveSweep = claims.which !== null ? claims.sweep : sweepJob.points;
  const liveRecall = claims.which !== null ? claims.recall : recallJob.points;
  const jPrefill = judge(sweeps, liveSweep, scalingBusy, verdictPrefillScaling);
  const jMemory = judge(sweeps, liveSweep, scalingBusy, verdictMemory);
  const jDecode = judge(sweeps, liveSweep, scalingBusy, verdictDecode);
  const jCross = judge(sweeps, liveSweep, scalingBusy, verdictCrossover);
  const jRecall = judge(recalls, liveRecall, recallBusy, verdictRecall);
  const jForget = judge(recalls, liveRecall, recallBusy, verdictForget);
  const lengths = sweepLengths(settings).map(fmtLen).join(', ');
  const mkAt = capacityAt;
  return (
    <div className="panel" data-testid="panel-claims">
      <Card
        title="Claims check"
        actions={
          <RunButton
            running={claims.running}
            label="Run all experiments"
            onRun={() => void runClaims('all')}
            onCancel={() => cancelJob('claims')}
            disabled={!canRun}
            why={canRun ? null : CHOOSE_WHY}
            testId="run-claims"
          />
        }
      >
        <p>
          The public debate in six claims, each judged on <b>your</b> GPU with the loaded models (with Mamba-2 loaded beside Mamba, each recurrent model is
          judged against the Transformer, and every chart draws all three). A verdict reads the newest finished measurements of these models that cover its claim: a sweep from the Scaling tab, probes from the Recall lab, or the experiments run here (a context sweep over L = {lengths || '—'}, set in
          the Scaling tab; passkey and multikey probes over the Recall lab's lengths, depths and numbers of facts K). Each card says which run it used. Verdicts are
          about these models, this device and these lengths — small models and short contexts can hide asymptotic effects.
        </p>
        {claims.progress && (
          <Progress
            done={claims.progress.done}
            total={claims.progress.total}
            label={claims.running ? `${claims.stage ?? ''}: ${claims.progress.label}` : claims.cancelled ? 'cancelled' : 'finished'}
            testId="claims-progress"
          />
        )}
        <ContextWarning lengths={[...sweepLengths(settings), ...settings.lengths]} />
        {claims.error && <Notice kind="error">{claims.error}</Notice>}
        <LimitNotes limits={claims.limits} />
        <SkipNotes skips={claims.skips} />
      </Card>
      <div className="claims-grid">
        <Claim
          id="prefill"
          claim="Mamba's cost grows linearly with context; attention's grows quadratically."
          who="For SSMs: linear-time sequence modeling"
          how="prefill L random tokens for each L; fit time ∝ L^k over the longer half of the lengths."
          judged={jPrefill}
          bound={prefillScalingBound}
          kind="scaling"
          points={(p) => p.length}
          chart={(p) => <ArchLineChart series={sweepSeries(p, (x) => x.prefillMs)} xLabel="context length L" yLabel="prefill time, log scale" yQuantity="time" logX logY />}
        />
        <Claim
          id="memory"
          claim="Mamba's memory stays constant; a Transformer's KV cache grows with every token."
          who="For SSMs: a fixed-size state"
          how="the GPU bytes each length needed for the sequence (SSM + conv state vs KV cache for its tokens)."
          judged={jMemory}
          bound={memoryBound}
          kind="scaling"
          points={(p) => p.length}
          chart={(p) => <ArchLineChart series={sweepSeries(p, (x) => x.stateBytes)} xLabel="context length L" yLabel="KV cache / state" yQuantity="bytes" logX />}
        />
        <Claim
          id="decode"
          claim="Mamba generates at the same speed however long the context; attention slows down."
          who="For SSMs: constant-time decoding"
          how="after each prefill, generate tokens and measure new tokens per second."
          judged={jDecode}
          bound={decodeBound}
          kind="scaling"
          points={(p) => p.filter((x) => x.decodeTokPerS).length}
          chart={(p) => <ArchLineChart series={sweepSeries(p, (x) => x.decodeTokPerS)} xLabel="context length L" yLabel="new tokens per second" logX yFormat={fmtTick} />}
        />
        <Claim
          id="recall"
          claim="Attention can recall any detail in its context."
          who="For Transformers: exact retrieval"
          how="passkey probes: a random key at several depths, asked at the end; exact-match accuracy per length."
          judged={jRecall}
          bound={(rc) => (rc.length ? RECALL_BOUND : null)}
          kind="recall"
          points={(p) => p.filter((x) => x.probe === 'passkey').length}
          chart={(rc) => (
            <ArchLineChart
              series={recallArchs(rc, 'passkey').map((arch) => ({ arch, points: recallByLength(rc, arch, 'passkey').map((r) => ({ x: r.length, y: r.score })) }))}
              xLabel="context length L"
              yLabel="accuracy"
              logX
              yFormat={fmtPct}
              yDomain={[0, 1]}
            />
          )}
        />
        <Claim
          id="forget"
          claim="A fixed-size state must forget: the more facts it has to hold, the fewer it recalls."
          who="For Transformers: a KV cache keeps every fact; an SSM compresses them into a fixed state"
          how={`multikey probes: K = ${settings.keys.join(', ')} facts (“The code for word is 1234.”) at random depths, one asked at the end; exact-match accuracy vs K at one length, beside passkey (one fact, forgetting by distance).`}
          judged={jForget}
          bound={(rc) => (rc.length ? RECALL_BOUND : null)}
          extra={
            states && (
              <p className="fine" data-testid="claim-state-forget">
                The fixed state each recurrent model carries, whatever the length: {states} (the Transformer's KV cache grows with every token instead).
              </p>
            )
          }
          kind="recall"
          points={(rc) => {
            const at = mkAt(rc);
            return at ? rc.filter((p) => p.probe === 'multikey' && p.length === at.length).length : 0;
          }}
          chart={(rc) => {
            const at = mkAt(rc);
            return (
              <ArchLineChart
                series={recallArchs(rc, 'multikey').map((arch) => ({ arch, points: at ? capacityByKeys(rc, arch, at.length).map((r) => ({ x: r.keys, y: r.score })) : [] }))}
                xLabel={at ? `facts K (L = ${fmtLen(at.length)})` : 'facts K'}
                yLabel="accuracy"
                logX
                xFormat={(k) => String(k)}
                yFormat={fmtPct}
                yDomain={[0, 1]}
              />
            );
          }}
        />
        <Claim
          id="crossover"
          claim="For short contexts attention is cheaper; Mamba only wins past a crossover length."
          who="For Transformers: well-optimized attention at everyday lengths"
          how="compare prefill times at each length and find where the faster model changes."
          judged={jCross}
          bound={shortContextBound}
          kind="scaling"
          points={(p) => p.length}
          chart={(p) => (
            <ArchLineChart
              series={sweepSeries(p, (q) => q.prefillMs)}
              xLabel="context length L"
              yLabel="prefill time, log scale"
              yQuantity="time"
              logX
              logY
              markers={crossoverMarkers(p)}
            />
          )}
        />
      </div>
    </div>
  );
}
