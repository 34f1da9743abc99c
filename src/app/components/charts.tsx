/** Chart building blocks (recharts) and the PNG export wrapper every chart sits in. */
import { useRef, type ReactNode } from 'react';
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Arch } from '../../models/types';
import { svgToPng } from '../../export/png';
import { downloadBlob, stamp } from '../../export/download';
import { toast } from '../../store/store';
import { AXIS, COLORS, GRID, axisUnit, fmtBytes, fmtLen, fmtMs, fmtTick, type AxisQuantity } from '../format';

export function ChartFigure(props: { title: string; name: string; points: number; children: ReactNode; height?: number; note?: ReactNode; testId?: string }) {
  const ref = useRef<HTMLElement>(null);
  const savePng = async () => {
    // The chart's own surface (legend icons are small svgs too): the largest svg in the figure.
    const svgs = [...(ref.current?.querySelectorAll('svg') ?? [])] as SVGSVGElement[];
    const area = (e: SVGSVGElement) => e.getBoundingClientRect().width * e.getBoundingClientRect().height;
    const svg = svgs.sort((a, b) => area(b) - area(a))[0] ?? null;
    if (!svg) return toast('Nothing to export yet: run something first.', 'error');
    try {
      const bg = getComputedStyle(document.body).getPropertyValue('--card').trim() || '#ffffff';
      const legend = [...(ref.current?.querySelectorAll('.recharts-legend-item') ?? [])].map((el) => ({
        label: el.textContent ?? '',
        color: el.querySelector('path, line, rect')?.getAttribute('stroke') || el.querySelector('path, rect')?.getAttribute('fill') || '#888',
      }));
      const axis = (c: string) => ref.current?.querySelector(`.axis-title-${c}`)?.textContent ?? undefined;
      downloadBlob(await svgToPng(svg, { background: bg, title: props.title, legend, axes: { x: axis('x'), y: axis('y') } }), `${props.name}-${stamp()}.png`);
    } catch (e) {
      toast(`PNG export failed: ${(e as Error).message}`, 'error');
    }
  };
  return (
    <figure className="chart" ref={ref} data-testid={props.testId ?? `chart-${props.name}`} data-points={props.points}>
      <figcaption>
        <span>{props.title}</span>
        <button
          type="button"
          className="btn btn-ghost btn-small"
          onClick={savePng}
          disabled={props.points === 0}
          title={props.points === 0 ? 'Nothing to save yet: the chart has no data' : 'Download this chart as PNG'}
        >
          PNG
        </button>
      </figcaption>
      <div className="chart-body" style={{ height: props.height ?? 240 }}>
        {/* The chart stays mounted while empty, so the first live point is an update, not a mount. */}
        {props.children}
        {props.points === 0 && <div className="chart-empty">No data yet</div>}
      </div>
      {props.note && <div className="chart-note">{props.note}</div>}
    </figure>
  );
}

/** One model's line; `floor` draws it dashed as that model's floor (src/roofline/), keyed `<arch>-floor`. */
export type Series = { arch: Arch; points: { x: number; y: number | null }[]; floor?: boolean };

const seriesKey = (s: Series) => (s.floor ? `${s.arch}-floor` : s.arch);

/** A dashed vertical line at x with a label (red unless a color is given). */
export type Marker = { x: number; label: string; color?: string };

/** Rows keyed by x with one column per model, as recharts wants them. */
export function mergeSeries(series: Series[]): Record<string, number | null>[] {
  const rows = new Map<number, Record<string, number | null>>();
  for (const s of series) {
    for (const p of s.points) {
      const r = rows.get(p.x) ?? { x: p.x };
      r[seriesKey(s)] = p.y !== null && Number.isFinite(p.y) ? p.y : null; // an infinite value would stretch the axis to nothing
      rows.set(p.x, r);
    }
  }
  return [...rows.values()].sort((a, b) => (a.x as number) - (b.x as number));
}

const NAMES: Record<string, string> = { mamba: 'Mamba', mamba2: 'Mamba-2', transformer: 'Transformer' };
const archName = (a: string): string => (a.endsWith('-floor') ? `${archName(a.slice(0, -6))} floor` : NAMES[a] ?? a);

/**
 * One line per model over x (two or three models: Mamba, Mamba-2, the Transformer; each in its color). Axis titles and the legend are HTML around the plot (never drawn over tick labels); a
 * time or byte axis (`yQuantity`) gets one unit for all its ticks, named in its title.
 */
export function ArchLineChart(props: {
  series: Series[];
  xLabel: string;
  yLabel: string;
  /** Time (values in ms) or bytes: the axis picks one unit and names it in the title. */
  yQuantity?: AxisQuantity;
  logX?: boolean;
  logY?: boolean;
  /** Ticks of a y axis without yQuantity (rates, fractions). */
  yFormat?: (v: number) => string;
  xFormat?: (v: number) => string;
  marker?: Marker | null;
  /** More than one marker (e.g. a crossover per recurrent model). */
  markers?: Marker[];
  dots?: boolean;
  yDomain?: [number, number];
}) {
  const data = mergeSeries(props.series);
  const xf = props.xFormat ?? fmtLen;
  const ys = props.series.flatMap((s) => s.points.map((p) => p.y).filter((v): v is number => v !== null));
  const unit = props.yQuantity ? axisUnit(props.yQuantity, ys, props.logY) : null;
  const yTick = unit ? unit.tick : (props.yFormat ?? fmtTick);
  const yFull = props.yQuantity === 'time' ? fmtMs : props.yQuantity === 'bytes' ? fmtBytes : yTick;
  const yTitle = unit ? `${props.yLabel} (${unit.unit})` : props.yLabel;
  // The marker's label goes on the side of its line with more room (never over the y tick labels).
  const xs = data.map((r) => r.x as number);
  const frac = (x: number) => {
    const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
    if (!(hi > lo)) return 0.5;
    return props.logX && lo > 0 ? Math.log(x / lo) / Math.log(hi / lo) : (x - lo) / (hi - lo);
  };
  const markers = [...(props.marker ? [props.marker] : []), ...(props.markers ?? [])];
  const side = (m: Marker) => (frac(m.x) < 0.5 ? 'insideTopLeft' : 'insideTopRight');
  return (
    <div className="xy">
      <div className="xy-top">
        <span className="axis-title axis-title-y" data-testid="y-title">{yTitle}</span>
        <span className="xy-legend">
          {props.series.map((s) => (
            <span key={seriesKey(s)} className="xy-legend-item recharts-legend-item">
              <svg width="14" height="8" aria-hidden>
                <line x1="0" y1="4" x2="14" y2="4" stroke={COLORS[s.arch]} strokeWidth={s.floor ? 1.5 : 2} strokeDasharray={s.floor ? '4 3' : undefined} />
              </svg>
              {archName(seriesKey(s))}
            </span>
          ))}
        </span>
      </div>
      <div className="xy-plot">
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={data} margin={{ top: 6, right: 18, bottom: 0, left: 4 }}>
            <CartesianGrid stroke={GRID} strokeDasharray="3 3" />
            <XAxis
              dataKey="x"
              type="number"
              scale={props.logX ? 'log' : 'linear'}
              domain={['dataMin', 'dataMax']}
              tickFormatter={xf}
              stroke={AXIS}
              tick={{ fill: AXIS, fontSize: 11 }}
              allowDataOverflow
            />
            <YAxis
              type="number"
              scale={props.logY ? 'log' : 'linear'}
              domain={props.yDomain ?? (props.logY ? ['auto', 'auto'] : [0, 'auto'])}
              tickFormatter={yTick}
              stroke={AXIS}
              tick={{ fill: AXIS, fontSize: 11 }}
              width={56}
              allowDataOverflow
            />
            <Tooltip
              formatter={(v, name) => [typeof v === 'number' ? yFull(v) : String(v), archName(String(name))]}
              labelFormatter={(l) => `${props.xLabel}: ${xf(Number(l))}`}
              contentStyle={{ background: 'var(--card)', border: '1px solid var(--border)', borderRadius: 8, color: 'var(--text)' }}
            />
            {props.series.map((s) => (
              <Line
                key={seriesKey(s)}
                dataKey={seriesKey(s)}
                name={seriesKey(s)}
                stroke={COLORS[s.arch]}
                strokeWidth={s.floor ? 1.5 : 2}
                strokeDasharray={s.floor ? '6 4' : undefined}
                className={s.floor ? `floor floor-${s.arch}` : undefined}
                dot={s.floor || props.dots === false ? false : { r: 3, fill: COLORS[s.arch], className: `pt pt-${s.arch}` }}
                isAnimationActive={false}
                connectNulls
              />
            ))}
            {markers.map((m, i) => (
              <ReferenceLine
                key={i}
                x={m.x}
                stroke={m.color ?? '#e5484d'}
                strokeDasharray="5 4"
                label={{ value: m.label, position: side(m), fill: m.color ?? '#e5484d', fontSize: 11, dy: i * 14 }}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
      <div className="axis-title axis-title-x" data-testid="x-title">{props.xLabel}</div>
    </div>
  );
}
