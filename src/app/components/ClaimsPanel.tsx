/** Claims check: each claim from the debate as a one-click experiment with a measured verdict on this GPU. */
import type { ReactNode } from 'react';
import {
  capacityByKeys, capacityLength, crossover, recallByLength, verdictCrossover, verdictDecode, verdictForget, verdictMemory, verdictPrefillScaling, verdictRecall,
  type Verdict,
} from '../../recall/analysis';
import type { RecallPoint, SweepPoint } from '../../recall/types';
import { useActiveSlots, useStore } from '../../store/store';
import { cancelJob, runClaims, sweepLengths } from '../controller';
import { fmtBytes, fmtLen, fmtMs, fmtPct, fmtRate } from '../format';
import { ArchLineChart, ChartFigure } from './charts';
import { LimitNotes } from './ScalingPanel';
import { SkipNotes } from './RecallPanel';
import { Badge, Card, Notice, Progress, RunButton } from './ui';
import { ClaimBoundLine } from './Roofline';
import { decodeBound, memoryBound, prefillScalingBound, shortContextBound, type ClaimBound } from '../../roofline/claims';

const STATUS: Record<Verdict['status'], { kind: 'ok' | 'bad' | 'warn' | 'muted'; label: string }> = {
  supported: { kind: 'ok', label: 'Holds here' },
  contradicted: { kind: 'bad', label: 'Does not hold here' },
  inconclusive: { kind: 'warn', label: 'Inconclusive' },
  'no-data': { kind: 'muted', label: 'Not measured yet' },
};

/** Recall claims are about accuracy: no floor decides them. */
const RECALL_BOUND: ClaimBound = {
  decider: null,
  text: 'Not a speed claim: no floor decides it. Accuracy follows the architecture (what the state or cache can hold) and what these models were trained on.',
};

function sweepSeries(points: SweepPoint[], y: (p: SweepPoint) => number | null) {
  return (['mamba', 'transformer'] as const)
    .map((arch) => ({ arch, points: points.filter((p) => p.arch === arch).map((p) => ({ x: p.length, y: y(p) })) }))
    .filter((s) => s.points.length);
}

function Claim(props: {
  id: string;
  claim: string;
  who: string;
  how: string;
  verdict: Verdict;
  kind: 'scaling' | 'recall';
  chart: ReactNode;
  points: number;
  /** What decides it: the architecture, the implementation or model size (src/roofline/claims.ts). */
  bound?: ClaimBound | null;
}) {
  const claims = useStore((s) => s.claims);
  const canRun = useActiveSlots().length === 2;
  const st = STATUS[props.verdict.status];
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
      <p className="claim-summary" data-status={props.verdict.status}>
        {props.verdict.summary}
      </p>
      <ClaimBoundLine id={props.id} b={props.bound ?? null} />
      <ChartFigure title="Measured" name={`claim-${props.id}`} points={props.points} height={180}>
        {props.chart}
      </ChartFigure>
      <div className="row">
        <span className="grow" />
        <RunButton
          running={claims.running}
          label={props.kind === 'scaling' ? 'Run the sweep' : 'Run the recall probes'}
          onRun={() => void runClaims(props.kind)}
          onCancel={() => cancelJob('claims')}
          disabled={!canRun}
          testId={`run-claim-${props.id}`}
        />
      </div>
    </Card>
  );
}

export function ClaimsPanel() {
  const claims = useStore((s) => s.claims);
  const settings = useStore((s) => s.settings);
  const canRun = useActiveSlots().length === 2;
  const sw = claims.sweep;
  const rc: RecallPoint[] = claims.recall;
  const x = crossover(sw);
  const mkAt = capacityLength(rc, ['mamba', 'transformer']);
  const lengths = sweepLengths(settings).map(fmtLen).join(', ');
  return (
    <div className="panel" data-testid="panel-claims">
      <Card
        title="Claims check"
        actions={
          <RunButton running={claims.running} label="Run all experiments" onRun={() => void runClaims('all')} onCancel={() => cancelJob('claims')} disabled={!canRun} testId="run-claims" />
        }
      >
        <p>
          The public debate in six claims, each tested on <b>your</b> GPU with the loaded pair. The scaling claims share one context sweep (L = {lengths || '—'}; set
          it in the Scaling tab); the recall claims run passkey and multikey probes over the Recall lab's lengths, depths and numbers of facts K on its document.
          Verdicts are about these models, this device and these lengths — small models and short contexts can hide asymptotic effects.
        </p>
        {!canRun && <Notice kind="info">Load a model pair and choose “Both” architectures to run the claims.</Notice>}
        {claims.progress && (
          <Progress
            done={claims.progress.done}
            total={claims.progress.total}
            label={claims.running ? `${claims.stage ?? ''}: ${claims.progress.label}` : claims.cancelled ? 'cancelled' : 'finished'}
            testId="claims-progress"
          />
        )}
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
          verdict={verdictPrefillScaling(sw)}
          bound={prefillScalingBound(sw)}
          kind="scaling"
          points={sw.length}
          chart={<ArchLineChart series={sweepSeries(sw, (p) => p.prefillMs)} xLabel="L" yLabel="ms" logX logY yFormat={fmtMs} />}
        />
        <Claim
          id="memory"
          claim="Mamba's memory stays constant; a Transformer's KV cache grows with every token."
          who="For SSMs: a fixed-size state"
          how="read the GPU bytes held for the sequence (SSM + conv state vs KV cache) after each prefill."
          verdict={verdictMemory(sw)}
          bound={memoryBound(sw)}
          kind="scaling"
          points={sw.length}
          chart={<ArchLineChart series={sweepSeries(sw, (p) => p.stateBytes)} xLabel="L" yLabel="bytes" logX yFormat={fmtBytes} />}
        />
        <Claim
          id="decode"
          claim="Mamba generates at the same speed however long the context; attention slows down."
          who="For SSMs: constant-time decoding"
          how="after each prefill, decode tokens (sampled on the GPU, several per readback) and measure tokens/s."
          verdict={verdictDecode(sw)}
          bound={decodeBound(sw)}
          kind="scaling"
          points={sw.filter((p) => p.decodeTokPerS).length}
          chart={<ArchLineChart series={sweepSeries(sw, (p) => p.decodeTokPerS)} xLabel="L" yLabel="tok/s" logX yFormat={fmtRate} />}
        />
        <Claim
          id="recall"
          claim="Attention can recall any detail in its context."
          who="For Transformers: exact retrieval"
          how="passkey probes: a random key at several depths, asked at the end; exact-match accuracy per length."
          verdict={verdictRecall(rc)}
          bound={rc.length ? RECALL_BOUND : null}
          kind="recall"
          points={rc.filter((p) => p.probe === 'passkey').length}
          chart={
            <ArchLineChart
              series={(['mamba', 'transformer'] as const).map((arch) => ({ arch, points: recallByLength(rc, arch, 'passkey').map((r) => ({ x: r.length, y: r.score })) }))}
              xLabel="L"
              yLabel="accuracy"
              logX
              yFormat={fmtPct}
              yDomain={[0, 1]}
            />
          }
        />
        <Claim
          id="forget"
          claim="A fixed-size state must forget: the more facts it has to hold, the fewer it recalls."
          who="For Transformers: a KV cache keeps every fact; an SSM compresses them into a fixed state"
          how={`multikey probes: K = ${settings.keys.join(', ')} facts (“The code for word is 1234.”) at random depths, one asked at the end; exact-match accuracy vs K at one length, beside passkey (one fact, forgetting by distance).`}
          verdict={verdictForget(rc)}
          bound={rc.length ? RECALL_BOUND : null}
          kind="recall"
          points={mkAt ? rc.filter((p) => p.probe === 'multikey' && p.length === mkAt.length).length : 0}
          chart={
            <ArchLineChart
              series={(['mamba', 'transformer'] as const).map((arch) => ({ arch, points: mkAt ? capacityByKeys(rc, arch, mkAt.length).map((r) => ({ x: r.keys, y: r.score })) : [] }))}
              xLabel={mkAt ? `facts K (L = ${fmtLen(mkAt.length)})` : 'facts K'}
              yLabel="accuracy"
              logX
              xFormat={(k) => String(k)}
              yFormat={fmtPct}
              yDomain={[0, 1]}
            />
          }
        />
        <Claim
          id="crossover"
          claim="For short contexts attention is cheaper; Mamba only wins past a crossover length."
          who="For Transformers: well-optimized attention at everyday lengths"
          how="compare prefill times at each length and find where the faster model changes."
          verdict={verdictCrossover(sw)}
          bound={shortContextBound(sw)}
          kind="scaling"
          points={sw.length}
          chart={
            <ArchLineChart
              series={sweepSeries(sw, (p) => p.prefillMs)}
              xLabel="L"
              yLabel="ms"
              logX
              logY
              yFormat={fmtMs}
              marker={x ? { x: x.length, label: `≈ ${fmtLen(x.length)}` } : null}
            />
          }
        />
      </div>
    </div>
  );
}
