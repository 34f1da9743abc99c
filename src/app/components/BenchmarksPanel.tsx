/**
 * Benchmarks: the committed reference results of the H200 run (docs/benchmarks/*.json) charted next to the user's own sweep.
 * Whole models (prefill, decode, sequence memory vs context), the scan kernels vs the official CUDA selective scan,
 * and attention vs torch SDPA. The data is bundled at build time (Vite JSON imports).
 */
import { memo } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import kernels from '../../../docs/benchmarks/kernels.json';
import torch from '../../../docs/benchmarks/torch.json';
import models from '../../../docs/benchmarks/models.json';
import type { SweepPoint } from '../../recall/types';
import { ARCHS } from '../../models/types';
import { useStore } from '../../store/store';
import { ARCH_LABEL } from '../controller';
import { AXIS, COLORS, GRID, axisUnit, fmtBytes, fmtLen, fmtMs, fmtTick, type AxisQuantity } from '../format';
import { ChartFigure } from './charts';
import { RunMetaLine } from './ScalingPanel';
import { Card } from './ui';

type Pt = { x: number; y: number | null | undefined };
type BenchSeries = { key: string; label: string; color: string; dashed?: boolean; points: Pt[] };

type KernelRow = { kernel: string; shape: string; ms: number | null; gflops: number | null; mtoks: number | null };
type ModelRow = (typeof models.rows)[number];

const MIB = 1024 * 1024;

const MODEL_COLORS: Record<string, string> = {
  'mamba-130m': COLORS.mamba,
  'mamba-370m': '#0b6e6d',
  'pythia-160m': COLORS.transformer,
  'pythia-410m': '#4b2fc4',
};

/** Rows keyed by x with one column per series (positive, finite y only: the charts use log axes). */
function merge(series: BenchSeries[]): Record<string, number>[] {
  const rows = new Map<number, Record<string, number>>();
  for (const s of series) {
    for (const p of s.points) {
      if (p.y === null || p.y === undefined || !Number.isFinite(p.y) || p.y <= 0) continue;
      const r = rows.get(p.x) ?? { x: p.x };
      r[s.key] = p.y;
      rows.set(p.x, r);
    }
  }
  return [...rows.values()].sort((a, b) => a.x - b.x);
}

function BenchLineChart(props: { series: BenchSeries[]; xLabel: string; yLabel: string; logY?: boolean; yQuantity?: AxisQuantity; yFormat?: (v: number) => string }) {
  const series = props.series.filter((s) => s.points.some((p) => p.y !== null && p.y !== undefined && p.y > 0));
  const data = merge(series);
  const ys = series.flatMap((s) => s.points.map((p) => p.y).filter((v): v is number => typeof v === 'number'));
  const unit = props.yQuantity ? axisUnit(props.yQuantity, ys, props.logY) : null;
  const yTick = unit ? unit.tick : (props.yFormat ?? fmtTick);
  const yFull = props.yQuantity === 'time' ? fmtMs : props.yQuantity === 'bytes' ? fmtBytes : yTick;
  const label = new Map(series.map((s) => [s.key, s.label]));
  return (
    <div className="xy">
      <div className="xy-top">
        <span className="axis-title axis-title-y">{unit ? `${props.yLabel} (${unit.unit})` : props.yLabel}</span>
      </div>
      <div className="xy-plot">
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={data} margin={{ top: 4, right: 16, bottom: 0, left: 4 }}>
            <CartesianGrid stroke={GRID} strokeDasharray="3 3" />
            <XAxis
              dataKey="x"
              type="number"
              scale="log"
              domain={['dataMin', 'dataMax']}
              tickFormatter={fmtLen}
              stroke={AXIS}
              tick={{ fill: AXIS, fontSize: 11 }}
              allowDataOverflow
            />
            <YAxis
              type="number"
              scale={props.logY ? 'log' : 'linear'}
              domain={props.logY ? ['auto', 'auto'] : [0, 'auto']}
              tickFormatter={yTick}
              stroke={AXIS}
              tick={{ fill: AXIS, fontSize: 11 }}
              width={56}
              allowDataOverflow
            />
            <Tooltip
              formatter={(v, name) => [typeof v === 'number' ? yFull(v) : String(v), label.get(String(name)) ?? String(name)]}
              labelFormatter={(l) => `${props.xLabel}: ${fmtLen(Number(l))}`}
              contentStyle={{ background: 'var(--card)', border: '1px solid var(--border)', borderRadius: 8, color: 'var(--text)' }}
            />
            <Legend verticalAlign="top" align="right" iconType="plainline" formatter={(v) => label.get(String(v)) ?? String(v)} wrapperStyle={{ fontSize: 12 }} />
            {series.map((s) => (
              <Line
                key={s.key}
                dataKey={s.key}
                name={s.key}
                stroke={s.color}
                strokeWidth={2}
                strokeDasharray={s.dashed ? '6 4' : undefined}
                dot={{ r: 3, fill: s.color }}
                isAnimationActive={false}
                connectNulls
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
      <div className="axis-title axis-title-x">{props.xLabel}</div>
    </div>
  );
}

// ---- data ------------------------------------------------------------------------------------------------------

const MODEL_NAMES = [...new Set(models.rows.map((r) => r.model))];

/** One line per model for f32 weights (dtype 'f16': the same models with f16 weights, dashed). */
function modelSeries(y: (r: ModelRow) => number | null | undefined, dtype: 'f32' | 'f16' = 'f32'): BenchSeries[] {
  return MODEL_NAMES.map((m) => ({
    key: dtype === 'f32' ? m : `${m}-${dtype}`,
    label: dtype === 'f32' ? `${m} (H200)` : `${m} (H200, ${dtype} weights)`,
    color: MODEL_COLORS[m] ?? AXIS,
    dashed: dtype !== 'f32',
    points: models.rows.filter((r) => r.model === m && r.dtype === dtype).map((r) => ({ x: r.context, y: y(r) })),
  }));
}

/** The user's own sweep (Scaling tab), one dashed line per architecture. */
function yourSeries(points: SweepPoint[], y: (p: SweepPoint) => number | null): BenchSeries[] {
  return ARCHS.filter((arch) => arch !== 'mamba2' || points.some((p) => p.arch === arch)).map((arch) => ({
    key: `you-${arch}`,
    label: `your GPU · ${ARCH_LABEL[arch]}`,
    color: COLORS[arch],
    dashed: true,
    points: points.filter((p) => p.arch === arch).map((p) => ({ x: p.length, y: y(p) })),
  }));
}

const kernelRows = kernels.results as KernelRow[];
const lOf = (shape: string) => Number(/L=(\d+)/.exec(shape)?.[1] ?? NaN);

function kernelSeries(kernel: string, y: (r: KernelRow) => number | null, label: string, color: string): BenchSeries {
  return {
    key: kernel.replace(/\W+/g, '-'),
    label,
    color,
    points: kernelRows.filter((r) => r.kernel === kernel && r.ms !== null).map((r) => ({ x: lOf(r.shape), y: y(r) })),
  };
}

const official = torch.official_cuda_selective_scan_h200_us as Record<string, number | string>;
const SCAN_SERIES: BenchSeries[] = [
  kernelSeries('scan/fused', (r) => r.mtoks, 'fused (ours)', COLORS.mamba),
  kernelSeries('scan/unfused', (r) => r.mtoks, 'unfused (ours)', '#f59e0b'),
  kernelSeries('scan/sequential', (r) => r.mtoks, 'sequential (ours)', '#e5484d'),
  {
    key: 'cuda-official',
    label: 'official CUDA selective_scan',
    color: '#64748b',
    dashed: true,
    points: Object.entries(official)
      .filter(([k, v]) => /^\d+$/.test(k) && typeof v === 'number')
      .map(([k, us]) => ({ x: Number(k), y: Number(k) / (us as number) })),
  },
];

const ATTN_SERIES: BenchSeries[] = [
  kernelSeries('attention/flash', (r) => (r.gflops === null ? null : r.gflops / 1000), 'flash (ours, f32)', COLORS.transformer),
  kernelSeries('attention/reference', (r) => (r.gflops === null ? null : r.gflops / 1000), 'reference (ours, f32)', '#f59e0b'),
  ...(['float32', 'bfloat16'] as const).map((dtype) => ({
    key: `sdpa-${dtype}`,
    label: `torch SDPA ${dtype === 'float32' ? 'fp32' : 'bf16'}`,
    color: dtype === 'float32' ? '#64748b' : '#111827',
    dashed: true,
    points: torch.sdpa.filter((r) => r.dtype === dtype).map((r) => ({ x: r.L, y: r.tflops })),
  })),
];

const count = (s: BenchSeries[]) => s.reduce((n, x) => n + x.points.filter((p) => p.y !== null && p.y !== undefined).length, 0);

const driver = /:\s*([\d.]+)/.exec(models.device.description)?.[1];

// ---- view ------------------------------------------------------------------------------------------------------

const ModelCharts = memo(function ModelCharts({ points }: { points: SweepPoint[] }) {
  const prefill = [...modelSeries((r) => r.prefillMs), ...yourSeries(points, (p) => p.prefillMs)];
  const decode = [...modelSeries((r) => r.decodeTokPerS), ...modelSeries((r) => r.decodeTokPerS, 'f16'), ...yourSeries(points, (p) => p.decodeTokPerS)];
  const memory = [...modelSeries((r) => (r.kvCacheMiB + r.ssmStateMiB) * MIB), ...yourSeries(points, (p) => p.stateBytes)];
  return (
    <div className="chart-grid">
      <ChartFigure title="Prefill time vs context (whole model)" name="bench-models-prefill" testId="bench-chart-models-prefill" points={count(prefill)}>
        <BenchLineChart series={prefill} xLabel="context length (tokens)" yLabel="prefill time" logY yQuantity="time" />
      </ChartFigure>
      <ChartFigure title="Decode speed vs context (whole model)" name="bench-models-decode" testId="bench-chart-models-decode" points={count(decode)}>
        <BenchLineChart series={decode} xLabel="context length (tokens)" yLabel="decode tokens/s" />
      </ChartFigure>
      <ChartFigure
        title="Sequence memory vs context (KV cache / SSM state)"
        name="bench-models-memory"
        testId="bench-chart-models-memory"
        points={count(memory)}
        note="Pythia: KV cache, grows with L. Mamba: SSM + conv state, constant."
      >
        <BenchLineChart series={memory} xLabel="context length (tokens)" yLabel="KV cache / state" logY yQuantity="bytes" />
      </ChartFigure>
    </div>
  );
});

export function BenchmarksPanel() {
  const points = useStore((s) => s.sweep.points);
  const meta = useStore((s) => s.sweep.meta);
  return (
    <div className="panel" data-testid="panel-benchmarks">
      <div className="panel" data-testid="bench-tab">
        <Card title="Benchmarks: reference results from an H200">
          <p className="fine" data-testid="bench-device">
            Measured on an {torch.device} (driver {driver ?? models.device.description}) through Dawn/WebGPU with this project's kernels; CUDA references from torch{' '}
            {torch.torch} (CUDA {torch.cuda}). Method, commands and raw logs: docs/benchmarks.md in the repository.{' '}
            {points.length
              ? 'Dashed lines marked "your GPU" are your own sweep from the Scaling tab.'
              : 'Run a sweep on the Scaling tab to overlay your GPU on the whole-model charts.'}
          </p>
        </Card>
        <div className="section-title">Whole models: mamba-130m/370m vs pythia-160m/410m</div>
        {points.length > 0 && <RunMetaLine meta={meta} what='"Your GPU" was' testId="bench-your-meta" />}
        <ModelCharts points={points} />
        <div className="section-title">Kernels</div>
        <div className="chart-grid">
          <ChartFigure
            title="Selective scan throughput per layer (D=1536, N=16)"
            name="bench-scan"
            testId="bench-chart-scan"
            points={count(SCAN_SERIES)}
            note="Official CUDA kernel: mamba_ssm's selective_scan_fwd (fp32, batch 1, same shape), timed on an H200 in a separate measurement (an earlier session), not in the run above (docs/benchmarks.md). Mtok/s = L / µs."
          >
            <BenchLineChart series={SCAN_SERIES} xLabel="sequence length L" yLabel="Mtok/s" logY />
          </ChartFigure>
          <ChartFigure
            title="Causal attention throughput (H=12, hd=64)"
            name="bench-attention"
            testId="bench-chart-attention"
            points={count(ATTN_SERIES)}
            note="The reference kernel materializes the [H, L, L] scores and does not fit past L=2048 on this device."
          >
            <BenchLineChart series={ATTN_SERIES} xLabel="sequence length L" yLabel="TFLOP/s" logY />
          </ChartFigure>
        </div>
      </div>
    </div>
  );
}
