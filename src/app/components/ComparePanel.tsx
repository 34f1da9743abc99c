/** Compare: one prompt, the chosen models (two, or all three) streaming side by side, with live speed and memory
 *  numbers and charts. */
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Arch, GenerateStats, ModelMemory } from '../../models/types';
import { useShallow } from 'zustand/react/shallow';
import { ARCHS } from '../../models/types';
import { useActiveSlots, patchSettings, usedSlots, useStore, type AppState, type RunMeta, type StreamOutput } from '../../store/store';
import { choiceArchs } from '../../store/url';
import { ARCH_LABEL, cancelJob, countTokens, findPair, listWords, pairSlots, runGenerate } from '../controller';
import { AXIS, GRID, axisUnit, fmtBytes, fmtMs, fmtRate, fmtTick } from '../format';
import { ArchLineChart, ChartFigure } from './charts';
import { ArchDot, Card, Notice, NumberField, Progress, RunButton, Segmented, Stat } from './ui';
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

/** Re-renders every `ms` while `on` (elapsed times tick). */
function useTicker(on: boolean, ms = 500): void {
  const [, set] = useState(0);
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => set((x) => x + 1), ms);
    return () => clearInterval(t);
  }, [on, ms]);
}

function fmtSeconds(ms: number): string {
  const s = Math.max(0, ms / 1000);
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** While a model reads its prompt: tokens done of the total, time so far, an estimate of the rest. */
function PrefillStatus({ arch, out, first }: { arch: Arch; out: StreamOutput; first: Arch | null }) {
  const waiting = out.startedAt === undefined;
  const sequential = useStore((s) => s.compare.meta?.settings.mode === 'sequential');
  useTicker(!waiting);
  if (waiting) {
    const other = first && first !== arch ? ARCH_LABEL[first] : null;
    return (
      <div className="prefill muted small" data-testid={`prefill-${arch}`} data-state="waiting">
        Waiting{other ? (sequential ? ` for ${other} to finish` : ` for ${other} to read its prompt first`) : ''}…
      </div>
    );
  }
  const total = out.promptTokens;
  const p = out.prefill;
  const done = p?.done ?? 0;
  const elapsed = performance.now() - out.startedAt!;
  const rate = p && p.done > 0 && p.ms > 0 ? p.done / p.ms : null;
  const left = rate ? Math.max(0, (total - done) / rate - (elapsed - p!.ms)) : null;
  const label =
    `Reading the prompt: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} tokens · ${fmtSeconds(elapsed)}` +
    (left !== null ? ` · about ${fmtSeconds(left)} left` : total > 1 ? ' · estimate after the first chunk' : '');
  return (
    <div className="prefill" data-testid={`prefill-${arch}`} data-state="prefill" data-done={done} data-total={total}>
      <Progress done={done} total={total} label={label} />
    </div>
  );
}

/** The kernel and sampling settings a Compare run used (from what the run recorded when it started). */
function runLabel(arch: Arch, meta: RunMeta | null, out: StreamOutput | undefined): string | null {
  if (!meta) return null;
  const s = meta.settings;
  // the kernels the result recorded (when it has finished), else those the run started with
  const k = out?.kernels ?? { scan: s.scan, attention: s.attn };
  const kernel = arch === 'transformer' ? `${k.attention} attention` : `${k.scan} scan`;
  const sampling = !s.temperature ? 'greedy' : `temperature ${s.temperature}, top-k ${s.topK || 'off'}, top-p ${s.topP === 1 ? 'off' : s.topP}, seed ${s.seed}`;
  return `${kernel} · ${sampling}`;
}

function Output({ arch, out, prompt, first }: { arch: Arch; out: StreamOutput | undefined; prompt: string; first: Arch | null }) {
  const info = useStore((s) => s.slots[arch].info);
  const running = useStore((s) => s.compare.running);
  const meta = useStore((s) => s.compare.meta);
  const held = useStore((s) => s.memory?.held?.[arch]);
  const st = out?.stats;
  const mem = out?.memory ?? info?.memory;
  const scroll = useStickToBottom(`${prompt.length}:${out?.text.length ?? -1}`);
  const label = out ? runLabel(arch, meta, out) : null;
  // the model that made this output (the loaded one may have changed since)
  const madeBy = out ? meta?.models[arch] : undefined;
  const stale = !!madeBy && madeBy !== info?.name;
  const prefilling = !!out && running && !out.done && out.tokens.length === 0;
  const total = (m: ModelMemory) => MEM_PARTS.reduce((a, p) => a + m[p.key], 0) + m.scratch;
  const extra = held && mem ? total(held) - total(mem) : 0;
  return (
    <Card
      className={`output-card output-${arch}`}
      testId={`output-card-${arch}`}
      title={
        <>
          <ArchDot arch={arch} /> {ARCH_LABEL[arch]} <span className="muted mono small">{madeBy ?? info?.name}</span>
          {label && (
            <span className="run-label" data-testid={`output-label-${arch}`} title="The kernel and sampling settings this output was made with">
              {label}
            </span>
          )}
        </>
      }
      actions={out && !out.done && running ? <span className="live">● live</span> : st ? <span className="muted small">stopped: {STOP_LABEL[st.stopReason]}</span> : null}
    >
      {stale && (
        <p className="fine run-meta" data-testid={`output-stale-${arch}`}>
          <b>Made by {madeBy}; the loaded model has changed since.</b>
        </p>
      )}
      {prefilling && <PrefillStatus arch={arch} out={out!} first={first} />}
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
        <Stat label="prompt tokens" value={out && out.promptTokens ? out.promptTokens.toLocaleString('en-US') : '—'} testId={`prompt-tokens-${arch}`} />
        <Stat label="time to first token" value={fmtMs(st ? (st.newTokens > 0 ? st.ttftMs : null) : (out?.tokens[0]?.ms ?? null))} testId={`ttft-${arch}`} title="Reading the prompt and picking the first new token" />
        <Stat label="prompt tok/s" value={fmtRate(st?.prefillTokPerS)} testId={`prefill-rate-${arch}`} title={st ? `${st.promptTokens} prompt tokens in ${fmtMs(st.prefillMs)}` : undefined} />
        <Stat label="new tok/s" value={fmtRate(st?.decodeTokPerS ?? liveDecodeRate(out))} testId={`decode-${arch}`} title="Tokens generated per second after the first" />
        <Stat label="new tokens" value={out ? `${out.tokens.length}` : '—'} testId={`new-tokens-${arch}`} />
      </div>
      {out?.trace?.readbacks && st && st.newTokens > 1 && (
        <p className="fine" data-testid={`trace-${arch}`}>
          The GPU picked each new token itself and sent them to the page {out.trace.batch} at a time: {out.trace.readbacks.decode} transfer
          {out.trace.readbacks.decode === 1 ? '' : 's'} for the {st.newTokens - 1} tokens after the first.
        </p>
      )}
      <BoundLine r={out?.roofline?.prefill} phase="prefill" testId={`bound-prefill-${arch}`} />
      <BoundLine r={out?.roofline?.decode} phase="decode" testId={`bound-decode-${arch}`} />
      {mem && (
        <div className="membar" title="GPU memory this model needed for this prompt and output" data-testid={`membar-${arch}`}>
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
          {extra > 1e5 && (
            <div className="fine" data-testid={`held-${arch}`}>
              Also held for reuse, not counted above: {fmtBytes(extra)} (buffers allocated ahead of need: room for longer contexts, or left by longer runs).
            </div>
          )}
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

/** The prompt's token count (from the loaded tokenizers, debounced) and the trained-context warning. */
function usePromptTokens(prompt: string): number | null {
  const [count, setCount] = useState<number | null>(null);
  const slotsKey = useStore((s) => ARCHS.map((a) => s.slots[a].status).join(':'));
  useEffect(() => {
    let live = true;
    const t = setTimeout(() => {
      countTokens(prompt)
        .then((c) => {
          const v = Object.values(c).filter((x): x is number => typeof x === 'number');
          if (live) setCount(v.length ? Math.max(...v) : null);
        })
        .catch(() => live && setCount(null));
    }, 300);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [prompt, slotsKey]);
  return count;
}

/** The columns Compare shows: the chosen architectures among the slots in use (with nothing loaded: those with an
 *  output, else the chosen pair's, else Mamba and the Transformer). */
function shownSlots(s: AppState): Arch[] {
  let base = usedSlots(s);
  if (!base.length) base = ARCHS.filter((a) => s.compare.outputs[a]);
  if (!base.length) {
    const pair = findPair(s.settings.pair, s.settings);
    base = pair ? pairSlots(pair).map(([a]) => a) : ['mamba', 'transformer'];
  }
  return choiceArchs(s.settings.arch).filter((a) => base.includes(a));
}

export function ComparePanel() {
  const settings = useStore((s) => s.settings);
  const compare = useStore((s) => s.compare);
  const ready = useActiveSlots();
  const slots = useStore((s) => s.slots);
  const tokens = usePromptTokens(settings.prompt);
  const shown = useStore(useShallow(shownSlots));
  // Token 1 includes reading the prompt (time to first token, in the stats above): the chart is the tokens after it.
  const series = shown
    .filter((a) => compare.outputs[a])
    .map((a) => ({ arch: a, points: compare.outputs[a]!.tokens.filter((t) => t.index > 0).map((t) => ({ x: t.index + 1, y: t.ms })) }));
  const nPoints = series.reduce((s, x) => s + x.points.length, 0);
  const memShown = shown.filter((a) => compare.outputs[a]?.memory);
  const memUnit = axisUnit('bytes', memShown.map((a) => {
    const m = compare.outputs[a]!.memory!;
    return m.weights + m.kvCache + m.ssmState + m.activations;
  }));
  const memRows = memShown.map((a) => {
    const m = compare.outputs[a]!.memory!;
    const u = memUnit.scale;
    return { name: ARCH_LABEL[a], weights: m.weights * u, kvCache: m.kvCache * u, ssmState: m.ssmState * u, activations: m.activations * u };
  });
  const over = ready
    .map((a) => slots[a].info!)
    .filter((i) => i.trainedContext && tokens !== null && tokens + settings.maxNew > i.trainedContext);
  const generateWhy = !ready.length
    ? ARCHS.some((a) => slots[a].status === 'loading') ? 'Wait for the models to load' : 'Load a model pair first (above)'
    : !settings.prompt.trim() ? 'Type a prompt first' : null;
  const first = compare.running ? (shown.find((a) => compare.outputs[a]) ?? null) : null;

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
        <div className="prompt-meta">
          <span className="muted small" data-testid="prompt-token-count">
            {tokens === null ? (ready.length ? 'Counting tokens…' : 'Token count after a model loads') : `${tokens.toLocaleString('en-US')} prompt token${tokens === 1 ? '' : 's'}`}
          </span>
          {over.length > 0 && tokens !== null && (
            <span className="context-warning" data-testid="context-warning" role="status">
              ⚠ {tokens.toLocaleString('en-US')} prompt tokens + up to {settings.maxNew} new go past what{' '}
              {listWords(over.map((i) => `${i.name} (${i.trainedContext!.toLocaleString('en-US')})`))} {over.length > 1 ? 'were' : 'was'} trained on: expect the
              output to degrade past that point. It still runs.
            </span>
          )}
        </div>
        <div className="row gap wrap compare-settings">
          <NumberField label="New tokens" value={settings.maxNew} min={1} max={4096} onChange={(maxNew) => patchSettings({ maxNew })} testId="max-new" help="How many tokens each model writes" />
          <NumberField
            label="Temperature"
            value={settings.temperature}
            min={0}
            max={2}
            step={0.1}
            onChange={(temperature) => patchSettings({ temperature })}
            testId="temperature"
            help="0 = always the likeliest token; higher = more varied"
          />
          <NumberField label="Top-k" value={settings.topK} min={0} onChange={(topK) => patchSettings({ topK })} testId="top-k" help="Pick among the k likeliest (0 = no limit)" />
          <NumberField label="Top-p" value={settings.topP} min={0} max={1} step={0.05} onChange={(topP) => patchSettings({ topP })} testId="top-p" help="Pick among the likeliest that add up to p (1 = no limit)" />
          <NumberField label="Seed" value={settings.seed} onChange={(seed) => patchSettings({ seed })} help="Same seed, same text" />
          <NumberField
            label="Tokens per transfer"
            value={settings.batch}
            min={0}
            max={256}
            onChange={(batch) => patchSettings({ batch: Math.max(0, Math.round(batch)) })}
            testId="batch"
            help="New tokens sent from the GPU at a time (0 = the model's choice, 8)"
            title="Tokens decoded per GPU submit, sampled on the GPU and read back together. 1 reads every token back (slowest); larger batches are faster but stream in bigger steps."
          />
          <Segmented
            label="Streaming"
            value={settings.mode}
            help="All together, or one model after the other"
            options={[
              { value: 'interleaved', label: 'Side by side', title: 'The models stream together: a batch of tokens of each in turn, each batch timed alone' },
              { value: 'sequential', label: 'One then the other', title: 'The first model generates everything, then the next' },
            ]}
            onChange={(mode) => patchSettings({ mode })}
          />
          <span className="grow" />
          <RunButton
            running={compare.running}
            label="Generate"
            onRun={() => void runGenerate()}
            onCancel={() => cancelJob('compare')}
            disabled={!!generateWhy}
            why={generateWhy}
            testId="generate"
          />
        </div>
        {compare.error && <Notice kind="error" testId="compare-error">{compare.error}</Notice>}
      </Card>
      <div className={`columns ${shown.length === 1 ? 'one' : shown.length === 3 ? 'three' : ''}`} data-testid="compare-columns" data-columns={shown.length}>
        {shown.map((a) => (
          <Output key={a} arch={a} out={compare.outputs[a]} prompt={compare.prompt} first={first} />
        ))}
      </div>
      <div className="columns">
        <ChartFigure
          title="Time per new token, after the first"
          name="token-latency"
          points={nPoints}
          note="Tokens arrive in batches; each shows its batch's time divided by the batch size. The first token, which includes reading the prompt, is the time to first token above."
        >
          <ArchLineChart series={series} xLabel="new token" yLabel="time per token" yQuantity="time" xFormat={(v) => String(v)} dots={nPoints < 80} />
        </ChartFigure>
        <ChartFigure
          title="GPU memory this run needed, by role"
          name="memory"
          points={memRows.length}
          note={
            <>
              Weights, plus what this prompt and output needed: KV cache for its tokens (Transformer), the fixed state (Mamba, Mamba-2), activations.
              {memShown.some((a) => a !== 'transformer') && (
                <span data-testid="compare-state-bytes">
                  {' '}State: {memShown.map((a) => `${ARCH_LABEL[a]} ${fmtBytes(a === 'transformer' ? compare.outputs[a]!.memory!.kvCache : compare.outputs[a]!.memory!.ssmState)}${a === 'transformer' ? ' (KV cache)' : ''}`).join(' · ')}.
                </span>
              )}
            </>
          }
        >
          <div className="xy">
            <div className="xy-top">
              <span className="axis-title axis-title-y">GPU memory ({memUnit.unit})</span>
            </div>
            <div className="xy-plot">
              <ResponsiveContainer width="100%" height="100%">
                <BarChart data={memRows} layout="vertical" margin={{ top: 4, right: 16, bottom: 0, left: 8 }}>
                  <CartesianGrid stroke={GRID} strokeDasharray="3 3" />
                  <XAxis type="number" stroke={AXIS} tick={{ fill: AXIS, fontSize: 11 }} tickFormatter={fmtTick} />
                  <YAxis type="category" dataKey="name" stroke={AXIS} tick={{ fill: AXIS, fontSize: 11 }} width={90} />
                  <Tooltip formatter={(v) => `${fmtTick(Number(v))} ${memUnit.unit}`} contentStyle={{ background: 'var(--card)', border: '1px solid var(--border)', borderRadius: 8 }} />
                  <Legend wrapperStyle={{ fontSize: 12 }} />
                  {MEM_PARTS.map((p) => (
                    <Bar key={p.key} dataKey={p.key} name={p.label} stackId="m" fill={p.color} isAnimationActive={false} />
                  ))}
                </BarChart>
              </ResponsiveContainer>
            </div>
            <div className="axis-title axis-title-x">{memUnit.unit}</div>
          </div>
        </ChartFigure>
      </div>
    </div>
  );
}
