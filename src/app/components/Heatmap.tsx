/** Accuracy heatmap (context length × depth, or × another row value such as K facts) as a plain SVG, so it exports to PNG like the charts. */
import type { RecallCell } from '../../recall/analysis';
import { fmtLen, fmtPct } from '../format';

function color(score: number): string {
  // red (0) → amber (0.5) → green (1)
  const stops = [
    [229, 72, 77],
    [245, 176, 65],
    [34, 170, 110],
  ];
  const t = Math.max(0, Math.min(1, score)) * 2;
  const i = Math.min(1, Math.floor(t));
  const f = t - i;
  const c = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export function Heatmap(props: {
  cells: RecallCell[];
  lengths: number[];
  depths: number[];
  testId?: string;
  /** Rows other than depth (cells carry the row value in `depth`): axis title and label format. */
  rowTitle?: string;
  rowFormat?: (v: number) => string;
}) {
  const rowFmt = props.rowFormat ?? ((d: number) => `${Math.round(d * 100)}%`);
  const rowTitle = props.rowTitle ?? 'depth';
  const lengths = [...new Set([...props.lengths, ...props.cells.map((c) => c.length)])].sort((a, b) => a - b);
  const depths = [...new Set([...props.depths, ...props.cells.map((c) => c.depth)])].sort((a, b) => a - b);
  const cw = 66;
  const ch = 34;
  const left = 64;
  const top = 8;
  const bottom = 40;
  const w = left + lengths.length * cw + 8;
  const h = top + depths.length * ch + bottom;
  const at = (l: number, d: number) => props.cells.find((c) => c.length === l && c.depth === d);
  return (
    <svg className="chart-svg heatmap" width={w} height={h} viewBox={`0 0 ${w} ${h}`} data-testid={props.testId} role="img" aria-label="accuracy heatmap">
      {depths.map((d, r) => (
        <text key={`d${d}`} x={left - 8} y={top + r * ch + ch / 2 + 4} textAnchor="end" fontSize={11} fill="#8a8fa3">
          {rowFmt(d)}
        </text>
      ))}
      {lengths.map((l, c) => (
        <text key={`l${l}`} x={left + c * cw + cw / 2} y={top + depths.length * ch + 14} textAnchor="middle" fontSize={11} fill="#8a8fa3">
          {fmtLen(l)}
        </text>
      ))}
      <text x={left + (lengths.length * cw) / 2} y={h - 6} textAnchor="middle" fontSize={11} fill="#8a8fa3">
        context length
      </text>
      <text x={12} y={top + (depths.length * ch) / 2} textAnchor="middle" fontSize={11} fill="#8a8fa3" transform={`rotate(-90 12 ${top + (depths.length * ch) / 2})`}>
        {rowTitle}
      </text>
      {depths.map((d, r) =>
        lengths.map((l, c) => {
          const cell = at(l, d);
          return (
            <g key={`${l}-${d}`} className={cell ? 'hm-cell filled' : 'hm-cell'}>
              <rect x={left + c * cw + 1} y={top + r * ch + 1} width={cw - 2} height={ch - 2} rx={4} fill={cell ? color(cell.score) : 'rgba(138,143,163,0.15)'} />
              {cell && (
                <text x={left + c * cw + cw / 2} y={top + r * ch + ch / 2 + 4} textAnchor="middle" fontSize={11} fontWeight={600} fill="#fff">
                  {fmtPct(cell.score)}
                </text>
              )}
              <title>{cell ? `L=${l}, ${rowTitle} ${rowFmt(d)}: ${fmtPct(cell.score)} over ${cell.n} trial(s)` : 'not measured'}</title>
            </g>
          );
        }),
      )}
    </svg>
  );
}
