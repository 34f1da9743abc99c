/** Recall lab: a document (pasted or bundled), passkey / copy-span / loss-by-position probes, heatmaps and curves. */
import { useEffect, useMemo, useState } from 'react';
import { ARCHS } from '../../models/types';
import { capacityByKeys, capacityGrid, capacityLength, recallByLength, recallGrid } from '../../recall/analysis';
import { checkDocument } from '../../recall/document';
import { MULTIKEY_WORDS } from '../../recall/multikey';
import { binMeans } from '../../recall/loss';
import type { ProbeKind, ProbeSkip, RecallPoint } from '../../recall/types';
import { useActiveSlots, patchSettings, setState, useStore } from '../../store/store';
import { ARCH_LABEL, cancelJob, countTokens, maxTokens, runRecall } from '../controller';
import { fmtLen, fmtPct } from '../format';
import { ArchLineChart, ChartFigure } from './charts';
import { Heatmap } from './Heatmap';
import { ContextWarning, LimitNotes, RunMetaLine } from './ScalingPanel';
import { SelectivityView } from './SelectivityView';
import { ArchDot, Card, ListField, Notice, NumberField, Progress, RunButton } from './ui';

/** Paste larger than this is refused outright (kept out of the page). */
const MAX_PASTE_CHARS = 8_000_000;
const PROBE_LABEL: Record<ProbeKind, string> = { passkey: 'Passkey (needle)', copy: 'Copy span', multikey: 'Multikey (capacity)', loss: 'Loss by position' };

export interface BundledDoc {
  id: string;
  title: string;
  file: string;
}

async function fetchText(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.text();
}

/** Keeps the store's document in step with the chosen bundled document. */
export function useBundledDocs(): BundledDoc[] {
  const [docs, setDocs] = useState<BundledDoc[]>([]);
  const docId = useStore((s) => s.settings.doc);
  useEffect(() => {
    fetch('docs/index.json')
      .then((r) => r.json() as Promise<BundledDoc[]>)
      .then(setDocs)
      .catch(() => setDocs([]));
  }, []);
  useEffect(() => {
    const d = docs.find((x) => x.id === docId);
    if (!d || useStore.getState().document.source === d.id) return;
    fetchText(`docs/${d.file}`)
      .then((text) => setState({ document: { text, source: d.id, tokens: {} } }))
      .catch(() => {});
  }, [docs, docId]);
  return docs;
}

export function DocumentCard() {
  const docs = useBundledDocs();
  const doc = useStore((s) => s.document);
  const docId = useStore((s) => s.settings.doc);
  const slotsKey = useStore((s) => ARCHS.map((a) => s.slots[a].status).join(':'));
  const [tooBig, setTooBig] = useState<number | null>(null);

  // Exact token counts from the loaded tokenizers (debounced; the tokenizer runs in the worker).
  useEffect(() => {
    if (!doc.text || tooBig !== null) return;
    const t = setTimeout(() => {
      countTokens(doc.text)
        .then((tokens) => setState((s) => (s.document.text === doc.text ? { document: { ...s.document, tokens } } : {})))
        .catch(() => {});
    }, 400);
    return () => clearTimeout(t);
  }, [doc.text, slotsKey, tooBig]);

  const limit = useStore(maxTokens);
  const counts = Object.values(doc.tokens).filter((x): x is number => typeof x === 'number');
  const check = useMemo(
    () => checkDocument(doc.text, { maxTokens: limit, tokens: counts.length ? Math.max(...counts) : undefined, minTokens: 64 }),
    [doc.text, limit, counts.join(',')],
  );
  const onText = (text: string) => {
    if (text.length > MAX_PASTE_CHARS) {
      setTooBig(text.length);
      setState({ document: { text: '', source: 'pasted', tokens: {} } });
    } else {
      setTooBig(null);
      setState({ document: { text, source: 'pasted', tokens: {} } });
    }
    patchSettings({ doc: 'pasted' });
  };
  return (
    <Card
      title="Document"
      testId="document-card"
      actions={
        <select
          value={docId}
          onChange={(e) => {
            setTooBig(null);
            if (e.target.value === 'pasted') {
              setState({ document: { text: '', source: 'pasted', tokens: {} } });
            }
            patchSettings({ doc: e.target.value });
          }}
          aria-label="bundled document"
          data-testid="doc-select"
        >
          {docs.map((d) => (
            <option key={d.id} value={d.id}>
              {d.title}
            </option>
          ))}
          <option value="pasted">Paste your own…</option>
        </select>
      }
    >
      <textarea
        className="doc"
        value={doc.text}
        onChange={(e) => onText(e.target.value)}
        rows={8}
        placeholder="Paste a long document here (plain text), or pick a bundled one."
        data-testid="doc-text"
        spellCheck={false}
      />
      {tooBig !== null ? (
        <Notice kind="error" testId="doc-check">
          The pasted text is {tooBig.toLocaleString('en-US')} characters — far beyond the {limit.toLocaleString('en-US')} tokens the loaded models and this device can
          take. It was not kept; paste a shorter document.
        </Notice>
      ) : check.ok ? (
        <div className="doc-ok" data-testid="doc-check" data-ok="true">
          {check.message} {!check.tokensExact && <span className="muted">(load a model for an exact count)</span>} The probes tile the document when it is shorter than a
          context length.
        </div>
      ) : (
        <Notice kind="error" testId="doc-check">
          {check.message}
        </Notice>
      )}
    </Card>
  );
}

export function RecallPanel() {
  const settings = useStore((s) => s.settings);
  const recall = useStore((s) => s.recall);
  const ready = useActiveSlots();
  const docText = useStore((s) => s.document.text);
  const docOk = checkDocument(docText, { maxTokens: Number.MAX_SAFE_INTEGER }).ok;
  const usesDepths = settings.probes.includes('passkey') || settings.probes.includes('copy');
  const why = !ready.length
    ? 'Load a model pair first (above)'
    : !docOk ? 'The document needs fixing (see its card)' : !settings.probes.length ? 'Tick at least one probe' : null;
  const toggleProbe = (p: ProbeKind) =>
    patchSettings({ probes: settings.probes.includes(p) ? settings.probes.filter((x) => x !== p) : [...settings.probes, p] });
  const archs = ARCHS.filter((a) => recall.points.some((p) => p.arch === a) || recall.curves.some((c) => c.arch === a));
  const lossSeries = recall.curves.length
    ? ARCHS.flatMap((arch) => {
        const cs = recall.curves.filter((c) => c.arch === arch);
        if (!cs.length) return [];
        const longest = cs.reduce((a, b) => (b.length > a.length ? b : a));
        return [{ arch, points: binMeans(longest.losses, 128).map((b) => ({ x: b.position + 1, y: b.value })) }];
      })
    : [];

  return (
    <div className="panel" data-testid="panel-recall">
      <div className="columns">
        <DocumentCard />
        <Card
          title="Probes"
          actions={
            <RunButton
              running={recall.running}
              label="Run probes"
              onRun={() => void runRecall()}
              onCancel={() => cancelJob('recall')}
              disabled={!!why}
              why={why}
              testId="run-recall"
            />
          }
        >
          <div className="checks">
            {(['passkey', 'copy', 'multikey', 'loss'] as ProbeKind[]).map((p) => (
              <label key={p} className="check">
                <input type="checkbox" checked={settings.probes.includes(p)} onChange={() => toggleProbe(p)} data-testid={`probe-${p}`} /> {PROBE_LABEL[p]}
              </label>
            ))}
          </div>
          <div className="row gap wrap">
            <ListField
              label="Context lengths"
              value={settings.lengths}
              onChange={(lengths) => patchSettings({ lengths: lengths.map(Math.round).filter((x) => x > 0) })}
              testId="recall-lengths"
              help="Tokens per probe, comma-separated"
            />
            <ListField
              label="Depths (0–1)"
              value={settings.depths}
              onChange={(depths) => patchSettings({ depths: depths.filter((d) => d <= 1) })}
              testId="recall-depths"
              help="Where passkey and copy put the fact: 0 = start, 1 = end (multikey: random)"
              disabledWhy={usesDepths ? null : 'Multikey places its K facts at random depths: no depth to set'}
            />
            <NumberField
              label="Trials"
              value={settings.trials}
              min={1}
              max={20}
              onChange={(trials) => patchSettings({ trials: Math.max(1, Math.round(trials)) })}
              testId="recall-trials"
              help="Probes per cell (length × depth, or length × K)"
            />
            <ListField
              label="Facts K (multikey)"
              value={settings.keys}
              onChange={(keys) => patchSettings({ keys: [...new Set(keys.map(Math.round).filter((k) => k >= 1 && k <= MULTIKEY_WORDS.length))].sort((a, b) => a - b) })}
              testId="recall-keys"
              help="How many facts a multikey document holds"
              disabledWhy={settings.probes.includes('multikey') ? null : 'Tick Multikey to set K'}
            />
          </div>
          <ul className="fine probe-help">
            <li>
              <b>Passkey</b>: a random 5-digit key is stated once at the chosen depth; the question at the end asks for it. Score: exact match of the number generated.
            </li>
            <li>
              <b>Copy span</b>: the first 16 tokens of a span from earlier in the document are repeated at the end; the model must continue with the next 16. Score:
              exact-match tokens.
            </li>
            <li>
              <b>Multikey</b>: K facts “The code for <i>word</i> is <i>1234</i>.” at random depths; the question asks for one of them. Score: exact match. A cell per
              length and K, with Trials probes; a cell whose facts do not fit in the length is skipped. Passkey tests forgetting by distance, this tests
              forgetting by capacity.
            </li>
            <li>
              <b>Loss by position</b>: per-token loss over the document; a model that uses long context keeps lowering it as it reads.
            </li>
          </ul>
          <ContextWarning lengths={settings.lengths} />
          {recall.progress && (
            <Progress done={recall.progress.done} total={recall.progress.total} label={recall.running ? recall.progress.label : recall.cancelled ? 'cancelled' : 'finished'} testId="recall-progress" />
          )}
          {recall.error && <Notice kind="error">{recall.error}</Notice>}
          <LimitNotes limits={recall.limits} />
          <SkipNotes skips={recall.skips} />
          <RunMetaLine meta={recall.meta} what={recall.running ? 'Being' : 'These results were'} testId="recall-meta" kernels={recall.points[0]?.kernels ?? recall.curves[0]?.kernels} />
        </Card>
      </div>

      {(['passkey', 'copy'] as const).map((probe) =>
        recall.points.some((p) => p.probe === probe) ? (
          <Card key={probe} title={`${PROBE_LABEL[probe]}: accuracy`} testId={`results-${probe}`}>
            <div className="heatmaps">
              {archs.map((arch) => (
                <figure className="chart heat" key={arch} data-testid={`heatmap-${probe}-${arch}`}>
                  <figcaption>
                    <span>
                      <ArchDot arch={arch} /> {ARCH_LABEL[arch]} — length × depth
                    </span>
                  </figcaption>
                  <Heatmap cells={recallGrid(recall.points, arch, probe)} lengths={settings.lengths} depths={settings.depths} />
                </figure>
              ))}
              <ChartFigure title="Recall vs context length" name={`recall-${probe}`} points={recall.points.filter((p) => p.probe === probe).length}>
                <ArchLineChart
                  series={archs.map((arch) => ({ arch, points: recallByLength(recall.points, arch, probe).map((r) => ({ x: r.length, y: r.score })) }))}
                  xLabel="context length (tokens)"
                  yLabel="accuracy"
                  logX
                  yFormat={fmtPct}
                  yDomain={[0, 1]}
                />
              </ChartFigure>
            </div>
          </Card>
        ) : null,
      )}

      {recall.points.some((p) => p.probe === 'multikey') && <CapacityResults points={recall.points} lengths={settings.lengths} keys={settings.keys} />}

      {recall.curves.length > 0 && (
        <ChartFigure title="Loss by position (nats per token, binned)" name="loss-by-position" points={recall.curves.length} height={260}>
          <ArchLineChart series={lossSeries} xLabel="token position" yLabel="loss (nats)" xFormat={(v) => fmtLen(Math.round(v))} dots={false} yDomain={undefined} />
        </ChartFigure>
      )}

      {recall.points.length > 0 && (
        <Card title="Scores" testId="recall-scores">
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th>Model</th>
                  <th>Probe</th>
                  <th>L</th>
                  <th>Depth</th>
                  <th>Score</th>
                  <th>Expected</th>
                  <th>Generated</th>
                </tr>
              </thead>
              <tbody>
                {recall.points.slice(-200).map((p, i) => (
                  <tr key={i} data-testid="recall-row">
                    <td>
                      <ArchDot arch={p.arch} /> {ARCH_LABEL[p.arch]}
                    </td>
                    <td>{p.probe === 'multikey' ? `multikey K=${p.keys}` : p.probe}</td>
                    <td>{fmtLen(p.length)}</td>
                    <td>{Math.round(p.depth * 100)}%</td>
                    <td className={p.correct ? 'good' : p.score > 0 ? 'meh' : 'bad'}>{fmtPct(p.score)}</td>
                    <td className="mono clip">{p.expected}</td>
                    <td className="mono clip">{p.output}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
      )}

      <SelectivityView />
    </div>
  );
}

/** Multikey cells that were not run (the K facts and the question do not fit in the length), one line per cell. */
export function SkipNotes({ skips }: { skips: ProbeSkip[] }) {
  if (!skips.length) return null;
  const byCell = new Map<string, { s: ProbeSkip; archs: string[] }>();
  for (const s of skips) {
    const key = `${s.probe}|${s.length}|${s.keys}`;
    const e = byCell.get(key) ?? { s, archs: [] };
    e.archs.push(ARCH_LABEL[s.arch]);
    byCell.set(key, e);
  }
  return (
    <Notice kind="info" testId="skip-notes">
      Skipped (does not fit):{' '}
      {[...byCell.values()].map(({ s, archs }, i) => (
        <span key={i} className="skip-note" data-testid="skip-note">
          {i > 0 && '; '}
          L={fmtLen(s.length)}, K={s.keys} ({archs.join(', ')}): {s.message}
        </span>
      ))}
      .
    </Notice>
  );
}

/** Multikey results: a K × length heatmap per model and accuracy vs K at one length. */
function CapacityResults({ points, lengths, keys }: { points: RecallPoint[]; lengths: number[]; keys: number[] }) {
  const archs = ARCHS.filter((a) => points.some((p) => p.arch === a && p.probe === 'multikey'));
  const mk = points.filter((p) => p.probe === 'multikey');
  const at = capacityLength(mk, archs)?.length ?? Math.max(...mk.map((p) => p.length));
  return (
    <Card title={`${PROBE_LABEL.multikey}: accuracy`} testId="results-multikey">
      <div className="heatmaps">
        {archs.map((arch) => (
          <figure className="chart heat" key={arch} data-testid={`heatmap-multikey-${arch}`}>
            <figcaption>
              <span>
                <ArchDot arch={arch} /> {ARCH_LABEL[arch]} — length × facts K
              </span>
            </figcaption>
            <Heatmap
              cells={capacityGrid(mk, arch).map((c) => ({ length: c.length, depth: c.keys, score: c.score, n: c.n }))}
              lengths={lengths}
              depths={keys}
              rowTitle="facts K"
              rowFormat={(k) => `K=${k}`}
            />
          </figure>
        ))}
        <ChartFigure title={`Recall vs number of facts (L = ${fmtLen(at)})`} name="recall-multikey" points={mk.filter((p) => p.length === at).length}>
          <ArchLineChart
            series={archs.map((arch) => ({ arch, points: capacityByKeys(mk, arch, at).map((r) => ({ x: r.keys, y: r.score })) }))}
            xLabel="facts K"
            yLabel="accuracy"
            logX
            xFormat={(k) => String(k)}
            yFormat={fmtPct}
            yDomain={[0, 1]}
          />
        </ChartFigure>
      </div>
    </Card>
  );
}
