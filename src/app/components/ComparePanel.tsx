/** Compare: one prompt, both models streaming side by side, with live speed and memory numbers and charts. */
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Arch, GenerateStats, ModelMemory } from '../../models/types';
import { useActiveSlots, patchSettings, useStore, type StreamOutput } from '../../store/store';
import { ARCH_LABEL, cancelJob, runGenerate } from '../controller';
import { AXIS, GRID, fmtBytes, fmtMs, fmtRate } from '../format';
import { ArchLineChart, ChartFigure } from './charts';
import { ArchDot, Card, Notice, NumberField, RunButton, Segmented, Stat } from './ui';
import { BoundLine } from './Roofline';

const STOP_LABEL: Record<GenerateStats['stopReason'], string> = {
  length: 'token limit',
  eos: 'end of text',
  'stop-string': 'stop text',
  aborted: 'cancelled',
  context: 'context limit',
};

const MEM_PARTS: { key: keyof ModelMemory; label: string; color: string }[] = [
  { key: 'weights', label: 'Weights', color: '#64748b' },
  { key: 'kvCache', label: 'KV cache', color: '#7c5cff' },
  { key: 'ssmState', label: 'SSM state', color: '#0ea5a4' },
  { key: 'activations', label: 'Activations', color: '#f59e0b' },
];

/** A prompt longer than this shows only its end until expanded, so the continuation sits in view. */
const PROMPT_TAIL_CHARS = 280;

/** The prompt as the output shows it: a long one (e.g. a pasted document) collapses to its last lines. */
function PromptText({ prompt }: { prompt: string }) {
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [prompt]);
  if (prompt.length <= PROMPT_TAIL_CHARS * 1.5 || open) return <span className="prompt-text">{prompt}</span>;
  // Cut at a word boundary near the tail start.
  let cut = prompt.length - PROMPT_TAIL_CHARS;
  const space = prompt.indexOf(' ', cut);
  if (space > 0 && space - cut < 40) cut = space + 1;
  return (
    <>
      <button type="button" className="prompt-more" onClick={() => setOpen(true)} data-testid="prompt-more" title="Show the whole prompt">
        … {cut.toLocaleString()} earlier characters of the prompt
      </button>
      <span className="prompt-text">{prompt.slice(cut)}</span>
    </>
  );
}

/** Keeps a scrolling box at its end while content grows, unless the reader scrolled up. */
function useStickToBottom(dep: unknown) {
  const ref = useRef<HTMLDivElement>(null);
  const stuck = useRef(true);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && stuck.current) el.scrollTop = el.scrollHeight;
  }, [dep]);
  const onScroll = () => {
    const el = ref.current;
    if (el) stuck.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };
  return { ref, onScroll };
}

function Output({ arch, out, prompt }: { arch: Arch; out: StreamOutput | undefined; prompt: string }) {
  const info = useStore((s) => s.slots[arch].info);
  const running = useStore((s) => s.compare.running);
  const st = out?.stats;
  const mem = out?.memory ?? info?.memory;
  const scroll = useStickToBottom(`${prompt.length}:${out?.text.length ?? -1}`);
  return (
    <Card
      className={`output-card output-${arch}`}
      testId={`output-card-${arch}`}
      title={
        <>
          <ArchDot arch={arch} /> {ARCH_LABEL[arch]} <span className="muted mono small">{info?.name}</span>
        </>
      }
      actions={out && !out.done && running ? <span className="live">● live</span> : st ? <span className="muted small">stopped: {STOP_LABEL[st.stopReason]}</span> : null}
    >
      <div className="output" data-testid={`output-${arch}`} data-done={out?.done ? 'true' : 'false'} aria-live="polite" ref={scroll.ref} onScroll={scroll.onScroll}>
        {out ? (
          <>
            <PromptText prompt={prompt} />
            <span className="gen-text" data-testid={`gen-text-${arch}`}>
              {out.text}
            </span>
            {!out.done && running && <span className="caret" />}
          </>
        ) : (
          <span className="muted">Output appears here.</span>
        )}
      </div>
      <div className="stats">
        <Stat label="time to first token" value={fmtMs(st?.ttftMs ?? (out?.tokens[0]?.ms ?? null))} testId={`ttft-${arch}`} />
        <Stat label="prefill tok/s" value={fmtRate(st?.prefillTokPerS)} testId={`prefill-${arch}`} title={st ? `${st.promptTokens} prompt tokens in ${fmtMs(st.prefillMs)}` : undefined} />
        <Stat label="decode tok/s" value={fmtRate(st?.decodeTokPerS ?? liveDecodeRate(out))} testId={`decode-${arch}`} />
        <Stat label="tokens" value={out ? `${out.tokens.length}` : '—'} />
      </div>
      {out?.trace?.readbacks && st && st.newTokens > 1 && (
        <p className="fine" data-testid={`trace-${arch}`}>
          Decoded in batches of {out.trace.batch} tokens sampled on the GPU: {out.trace.readbacks.decode} GPU readback{out.trace.readbacks.decode === 1 ? '' : 's'} for{' '}
          {st.newTokens - 1} tokens after the first.
        </p>
      )}
      <BoundLine r={out?.roofline?.prefill} phase="prefill" testId={`bound-prefill-${arch}`} />
      <BoundLine r={out?.roofline?.decode} phase="decode" testId={`bound-decode-${arch}`} />
      {mem && (
        <div className="membar" title="GPU memory held by this model">
          <div className="membar-bar">
            {MEM_PARTS.map((p) => {
              const total = MEM_PARTS.reduce((s, q) => s + mem[q.key], 0) || 1;
              return mem[p.key] > 0 ? <div key={p.key} style={{ width: `${(mem[p.key] / total) * 100}%`, background: p.color }} /> : null;
            })}
          </div>
          <div className="membar-legend">
            {MEM_PARTS.map((p) => (
              <span key={p.key}>
                <i style={{ background: p.color }} /> {p.label} <b>{fmtBytes(mem[p.key])}</b>
              </span>
            ))}
          </div>
        </div>
      )}
    </Card>
  );
}

function liveDecodeRate(out: StreamOutput | undefined): number | null {
  if (!out || out.tokens.length < 3) return null;
  const ms = out.tokens.slice(1).reduce((s, t) => s + t.ms, 0);
  return ms > 0 ? (out.tokens.length - 1) / (ms / 1e3) : null;
}

export function ComparePanel() {
  const settings = useStore((s) => s.settings);
  const compare = useStore((s) => s.compare);
  const ready = useActiveSlots();
  const shown: Arch[] = settings.arch === 'both' ? ['mamba', 'transformer'] : [settings.arch];
  const series = shown
    .filter((a) => compare.outputs[a])
    .map((a) => ({ arch: a, points: compare.outputs[a]!.tokens.map((t) => ({ x: t.index + 1, y: t.ms })) }));
  const nPoints = series.reduce((s, x) => s + x.points.length, 0);
  const memRows = shown
    .filter((a) => compare.outputs[a]?.memory)
    .map((a) => {
      const m = compare.outputs[a]!.memory!;
      return { name: ARCH_LABEL[a], weights: m.weights / 1e6, kvCache: m.kvCache / 1e6, ssmState: m.ssmState / 1e6, activations: m.activations / 1e6 };
    });

  return (
    <div className="panel" data-testid="panel-compare">
      <Card title="Prompt" testId="prompt-card">
        <textarea
          className="prompt"
          value={settings.prompt}
          rows={3}
          onChange={(e) => patchSettings({ prompt: e.target.value })}
          data-testid="prompt"
          placeholder="Type a prompt…"
          spellCheck={false}
        />
        <div className="row gap wrap">
          <NumberField label="New tokens" value={settings.maxNew} min={1} max={4096} onChange={(maxNew) => patchSettings({ maxNew })} testId="max-new" />
          <NumberField label="Temperature" value={settings.temperature} min={0} max={2} step={0.1} onChange={(temperature) => patchSettings({ temperature })} />
          <NumberField label="Top-k" value={settings.topK} min={0} onChange={(topK) => patchSettings({ topK })} title="0 = off" />
          <NumberField label="Top-p" value={settings.topP} min={0} max={1} step={0.05} onChange={(topP) => patchSettings({ topP })} title="1 = off" />
          <NumberField label="Seed" value={settings.seed} onChange={(seed) => patchSettings({ seed })} />
          <NumberField
            label="Tokens per readback"
            value={settings.batch}
            min={0}
            max={256}
            onChange={(batch) => patchSettings({ batch: Math.max(0, Math.round(batch)) })}
            testId="batch"
            title="Tokens decoded per GPU submit, sampled on the GPU and read back together. 0 = the model's default. 1 reads every token back (slowest); larger batches are faster but stream in bigger steps."
          />
          <Segmented
            label="Streaming"
            value={settings.mode}
            options={[
              { value: 'interleaved', label: 'Side by side', title: 'Both models stream together: a batch of tokens of each in turn, each batch timed alone' },
              { value: 'sequential', label: 'One then the other', title: 'The first model generates everything, then the second' },
            ]}
            onChange={(mode) => patchSettings({ mode })}
          />
          <span className="grow" />
          <RunButton
            running={compare.running}
            label="Generate"
            onRun={() => void runGenerate()}
            onCancel={() => cancelJob('compare')}
            disabled={!ready.length || !settings.prompt.trim()}
            testId="generate"
          />
        </div>
        {!ready.length && <p className="fine">Load a model pair above to generate.</p>}
        {compare.error && <Notice kind="error" testId="compare-error">{compare.error}</Notice>}
      </Card>
      <div className={`columns ${shown.length === 1 ? 'one' : ''}`}>
        {shown.map((a) => (
          <Output key={a} arch={a} out={compare.outputs[a]} prompt={compare.prompt} />
        ))}
      </div>
      <div className="columns">
        <ChartFigure title="Time per token" name="token-latency" points={nPoints} note="Tokens arrive in batches; each shows its batch's time divided by the batch size. Token 1 includes the prompt (time to first token).">
          <ArchLineChart series={series} xLabel="token" yLabel="ms" xFormat={(v) => String(v)} yFormat={(v) => fmtMs(v)} dots={nPoints < 80} />
        </ChartFigure>
        <ChartFigure title="GPU memory by role (MB)" name="memory" points={memRows.length}>
          <ResponsiveContainer width="100%" height="100%">
            <BarChart data={memRows} layout="vertical" margin={{ top: 8, right: 16, bottom: 8, left: 16 }}>
              <CartesianGrid stroke={GRID} strokeDasharray="3 3" />
              <XAxis type="number" stroke={AXIS} tick={{ fill: AXIS, fontSize: 11 }} />
              <YAxis type="category" dataKey="name" stroke={AXIS} tick={{ fill: AXIS, fontSize: 11 }} width={90} />
              <Tooltip formatter={(v) => `${Number(v).toFixed(2)} MB`} contentStyle={{ background: 'var(--card)', border: '1px solid var(--border)', borderRadius: 8 }} />
              <Legend wrapperStyle={{ fontSize: 12 }} />
              {MEM_PARTS.map((p) => (
                <Bar key={p.key} dataKey={p.key} name={p.label} stackId="m" fill={p.color} isAnimationActive={false} />
              ))}
            </BarChart>
          </ResponsiveContainer>
        </ChartFigure>
      </div>
    </div>
  );
}
