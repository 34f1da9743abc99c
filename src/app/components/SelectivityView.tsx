/**
 * Selectivity: for one passkey probe, Mamba's per-token step size Δ (mean over channels: large Δ = the state takes
 * the token in, small = it keeps what it had) beside the Transformer's attention from the answer position to each
 * token. Shown as a heat strip over the tokens (text only) and a curve over positions.
 */
import { useState } from 'react';
import type { SelectivityResult } from '../../worker/protocol';
import { useActiveSlots, useStore } from '../../store/store';
import { checkDocument } from '../../recall/document';
import { ARCH_LABEL, cancelJob, runSelectivity } from '../controller';
import { COLORS } from '../format';
import { ArchLineChart, ChartFigure } from './charts';
import { ArchDot, Card, Notice, RunButton } from './ui';

function layerValues(r: SelectivityResult, layer: number): number[] {
  if (layer >= 0) return r.layers[layer] ?? [];
  const n = r.tokens.length;
  const out = new Array<number>(n).fill(0);
  for (const l of r.layers) for (let i = 0; i < n; i++) out[i] += (l[i] ?? 0) / r.layers.length;
  return out;
}

function Strip({ r }: { r: SelectivityResult }) {
  const [layer, setLayer] = useState(-1);
  const vals = layerValues(r, layer);
  const max = Math.max(1e-12, ...vals);
  const color = COLORS[r.slot];
  const what = r.kind === 'delta' ? 'Δ (mean over channels)' : 'attention from the answer position (mean over heads)';
  return (
    <div className="sel-model" data-testid={`selectivity-${r.slot}`}>
      <h4>
        <ArchDot arch={r.slot} /> {ARCH_LABEL[r.slot]} · <span className="muted">{what}</span>
        <select value={layer} onChange={(e) => setLayer(Number(e.target.value))} aria-label="layer">
          <option value={-1}>mean of {r.layers.length} layers</option>
          {r.layers.map((_, i) => (
            <option key={i} value={i}>
              layer {i}
            </option>
          ))}
        </select>
      </h4>
      <div className="strip">
        {r.tokens.map((t, i) => {
          const a = vals[i] / max;
          const inNeedle = i >= r.needle[0] && i < r.needle[1];
          return (
            <span
              key={i}
              className={inNeedle ? 'tok needle' : i >= r.questionStart ? 'tok question' : 'tok'}
              style={{ background: `color-mix(in srgb, ${color} ${Math.round(a * 85)}%, transparent)` }}
              title={`#${i} ${JSON.stringify(t)}: ${vals[i]?.toPrecision(3)}`}
            >
              {t}
            </span>
          );
        })}
      </div>
    </div>
  );
}

export function SelectivityView() {
  const sel = useStore((s) => s.selectivity);
  const lengths = useStore((s) => s.settings.lengths);
  const docOk = useStore((s) => checkDocument(s.document.text, { maxTokens: Number.MAX_SAFE_INTEGER }).ok);
  const ready = useActiveSlots().length > 0;
  const [length, setLength] = useState(lengths[0] ?? 256);
  const [depth, setDepth] = useState(0.5);
  const series = sel.results.map((r) => {
    const vals = layerValues(r, -1);
    const max = Math.max(1e-12, ...vals);
    return { arch: r.slot, points: vals.map((y, x) => ({ x, y: y / max })) };
  });
  return (
    <Card
      title="Selectivity: what each model keeps"
      testId="selectivity-card"
      actions={
        <div className="row gap">
          <select value={length} onChange={(e) => setLength(Number(e.target.value))} aria-label="probe length">
            {[...new Set([...lengths, 128, 256, 512])].sort((a, b) => a - b).map((l) => (
              <option key={l} value={l}>
                L={l}
              </option>
            ))}
          </select>
          <select value={depth} onChange={(e) => setDepth(Number(e.target.value))} aria-label="needle depth">
            {[0, 0.25, 0.5, 0.75, 1].map((d) => (
              <option key={d} value={d}>
                depth {d * 100}%
              </option>
            ))}
          </select>
          <RunButton running={sel.running} label="Inspect" onRun={() => void runSelectivity(length, depth)} onCancel={() => cancelJob('selectivity')} disabled={!docOk || !ready} why={!ready ? 'Load a model pair first (above)' : !docOk ? 'The document needs fixing (see its card)' : null} testId="run-selectivity" />
        </div>
      }
    >
      <p className="fine">
        One passkey probe. Mamba: the per-token step size Δ — a large Δ writes the token into the state, a small one keeps the state as it was. Transformer: the
        attention weights from the answer position back to every token. The needle is outlined.
      </p>
      {sel.error && <Notice kind="error">{sel.error}</Notice>}
      <div className="sel-grid">
        {sel.results.map((r) => (
          <Strip key={r.slot} r={r} />
        ))}
      </div>
      {series.length > 0 && (
        <ChartFigure title="Selectivity over positions (normalized)" name="selectivity" points={series.length}>
          <ArchLineChart series={series} xLabel="token position" yLabel="relative" xFormat={(v) => String(v)} dots={false} />
        </ChartFigure>
      )}
    </Card>
  );
}
