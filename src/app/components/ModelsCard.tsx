/**
/**
 * Model pair picker (demo pair, hub pairs and three-way sets with sizes, or any hub repo id per architecture), one row
 * per slot with load progress and cancel, the size confirmed before a download, load failures in words for users, and
 * the architecture / kernel toggles (a setting: each run takes the kernels chosen when it starts,
 * src/app/controller.ts). A new pair loads beside the old one, which stays if the new one fails (controller.loadPair).
 */
import { useState } from 'react';
import { useStore, patchSettings, setState } from '../../store/store';
import { ARCHS, type Arch } from '../../models/types';
import type { ModelPair, RegistryEntry } from '../../hub/registry';
import { ATTENTION_KERNELS, attentionVariants, SCAN_KERNELS, scanVariants } from '../../models/kernel-choice';
import type { ArchChoice } from '../../store/url';
import { cancelLoad, checkPair, customPairProblem, findPair, loadPair, pairs, pairSlots, unloadAll, ARCH_LABEL } from '../controller';
import type { ModelCheck } from '../inspect';
import { fmtBytes } from '../format';
import { ArchDot, Badge, Notice, Progress, Segmented } from './ui';
import { DemoResults } from './DemoResults';

/** Approximate download bytes and GPU weight bytes (weights keep the checkpoint's precision on the GPU). */
function sizes(e: RegistryEntry): { download: number; gpu: number } {
  const bytes = e.checkpointDtype === 'f16' ? 2 : 4;
  return { download: e.approxDownloadBytes ?? 0, gpu: e.params * bytes };
}

function SlotRow({ slot }: { slot: Arch }) {
  const st = useStore((s) => s.slots[slot]);
  const p = st.progress;
  const info = st.status === 'loading' ? st.previous : st.info;
  return (
    <div className="slot" data-testid={`slot-${slot}`} data-status={st.status}>
      <div className="slot-head">
        <ArchDot arch={slot} />
        <strong>{ARCH_LABEL[slot]}</strong>
        <span className="muted mono small clip">{st.info?.source ?? st.previous?.source ?? ''}</span>
        <span className="grow" />
        {st.status === 'ready' && <Badge kind="ok">{st.info?.fromCache ? 'ready · from cache' : 'ready'}</Badge>}
        {st.status === 'loading' && <Badge kind="info">loading</Badge>}
        {st.status === 'error' && <Badge kind="bad">error</Badge>}
        {st.status === 'empty' && <Badge kind="muted">not loaded</Badge>}
      </div>
      {st.status === 'loading' && (
        <Progress
          done={p?.loaded ?? 0}
          total={p?.total ?? 0}
          label={
            (p ? `${p.file} · ${fmtBytes(p.loaded)}${p.total ? ` / ${fmtBytes(p.total)}` : ''}${p.fromCache ? ' (cache)' : ''}` : 'starting…') +
            (st.previous ? ` — ${st.previous.name} stays loaded until this is in` : '')
          }
          testId={`progress-${slot}`}
        />
      )}
      {info && st.status !== 'error' && st.status !== 'empty' && (
        <div className="slot-info muted" data-testid={`slot-info-${slot}`}>
          <span data-testid={`trained-${slot}`}>
            {info.trainedContext
              ? <>trained on ≤ <b>{info.trainedContext.toLocaleString('en-US')}</b> tokens</>
              : 'training length unknown'}
          </span>
          {' · '}runs up to {info.maxContext.toLocaleString('en-US')} here · vocab {info.vocabSize.toLocaleString('en-US')} · weights {fmtBytes(info.memory.weights)}
          {info.trainedContextSource && <span className="sr-only"> (from {info.trainedContextSource})</span>}
          {info.weights && (
            <span data-testid={`weights-${slot}`}>
              {' · '}
              {info.weights.format === 'pytorch' ? 'PyTorch .bin' : 'safetensors'}
              {info.weights.files.length > 1 ? ` (${info.weights.files.length} shards)` : ''}
            </span>
          )}
          {info.tokenizerFrom && (
            <span data-testid={`tokenizer-from-${slot}`} title="This repo has no tokenizer of its own; its authors name this one.">
              {' · '}tokenizer from {info.tokenizerFrom}
            </span>
          )}
        </div>
      )}
      {st.status === 'error' && (
        <div className="slot-error">
          {st.error}
          {st.errorDetail && (
            <details className="fine">
              <summary>Details</summary>
              <span className="mono">{st.errorDetail}</span>
            </details>
          )}
        </div>
      )}
      {st.status === 'empty' && <div className="muted small slot-info">{st.error ?? 'Pick a pair and press Load.'}</div>}
    </div>
  );
}

function PairNoticeView() {
  const n = useStore((s) => s.pairNotice);
  if (!n) return null;
  return (
    <Notice kind={n.kind} testId="pair-notice">
      <b>{n.title}</b> {n.advice}
      {n.detail && (
        <details className="fine">
          <summary>Details</summary>
          <span className="mono">{n.detail}</span>
        </details>
      )}
      <button type="button" className="btn btn-ghost btn-small notice-close" onClick={() => setState({ pairNotice: null })} title="Dismiss this message">
        ×
      </button>
    </Notice>
  );
}

type Checks = Partial<Record<Arch, ModelCheck>>;

/** "Download ≈ 896 MB?" before a hub pair loads (skipped when its files are all in the browser's cache). */
function ConfirmDownload({ pair, checks, onYes, onNo }: { pair: ModelPair; checks: Checks; onYes: () => void; onNo: () => void }) {
  const dl = (c: ModelCheck) => (c.cached ? 'in your browser’s cache' : `${c.sizeExact ? '' : '≈ '}${fmtBytes(c.downloadBytes)}`);
  const all = pairSlots(pair).flatMap(([slot]) => (checks[slot] ? [[slot, checks[slot]] as const] : []));
  const total = all.reduce((t, [, c]) => t + (c.cached ? 0 : c.downloadBytes), 0);
  const gpu = all.reduce((t, [, c]) => t + c.gpuBytes, 0);
  return (
    <div className="confirm" role="dialog" aria-label="Confirm download" data-testid="confirm-download">
      <div>
        <b>Download {fmtBytes(total)} for {pair.label}?</b>
        <div className="fine">
          {all.map(([slot, c]) => `${ARCH_LABEL[slot]} ${c.label}: ${dl(c)}`).join(' · ')} · GPU memory for the weights ≈ {fmtBytes(gpu)}. Your browser keeps
          the files, so the next load works offline. The loaded models stay loaded until the new ones are in, and stay if loading fails.
        </div>
      </div>
      <div className="row gap">
        <button type="button" className="btn btn-primary" onClick={onYes} data-testid="confirm-load">
          Download and load
        </button>
        <button type="button" className="btn btn-ghost" onClick={onNo} data-testid="confirm-cancel">
          Cancel
        </button>
      </div>
    </div>
  );
}

/** The architecture toggle's choices: all the loaded models, each alone, and (three loaded) each two of them. */
function archOptions(archs: Arch[]): { value: ArchChoice; label: string }[] {
  const pairsOf = archs.length === 3 ? archs.flatMap((a, i) => archs.slice(i + 1).map((b) => [a, b] as const)) : [];
  return [
    { value: 'both', label: archs.length === 3 ? 'All three' : 'Both' },
    ...archs.map((a) => ({ value: a as ArchChoice, label: ARCH_LABEL[a] })),
    ...pairsOf.map(([a, b]) => ({ value: `${a}+${b}` as ArchChoice, label: `${ARCH_LABEL[a]} + ${ARCH_LABEL[b]}` })),
  ];
}

/** One repo of a custom pair: a hub repo id, trimmed as typed. */
function RepoField(props: { label: string; value: string; placeholder: string; testId: string; help: string; onChange: (repo: string) => void }) {
  return (
    <label className="field">
      <span className="field-label">{props.label}</span>
      <input
        type="text"
        value={props.value}
        placeholder={props.placeholder}
        spellCheck={false}
        data-testid={props.testId}
        onChange={(e) => props.onChange(e.target.value.trim())}
      />
      <span className="field-help">{props.help}</span>
    </label>
  );
}

export function ModelsCard() {
  const settings = useStore((s) => s.settings);
  const slots = useStore((s) => s.slots);
  const [checking, setChecking] = useState(false);
  const [confirm, setConfirm] = useState<{ pair: ModelPair; checks: Checks } | null>(null);
  const loading = ARCHS.some((a) => slots[a].status === 'loading');
  const loaded = ARCHS.some((a) => slots[a].status === 'ready');
  const list = pairs();
  const chosen = findPair(settings.pair);
  const isLoaded = !!chosen && ARCHS.some((a) => slots[a].sourceId === chosen.id) && loaded;
  const busy = loading || checking;
  const customProblem = settings.pair === 'custom' ? customPairProblem(settings) : null;
  const loadWhy = busy ? 'Wait for the current load to finish' : customProblem;
  const trio = !!chosen && chosen.entries.length === 3;
  // A row per slot the chosen pair fills or that holds something (Mamba and Transformer when neither says).
  const inChosen = new Set(chosen ? pairSlots(chosen).map(([a]) => a) : []);
  let rows = ARCHS.filter((a) => inChosen.has(a) || slots[a].status !== 'empty' || slots[a].error !== undefined);
  if (!rows.length) rows = ['mamba', 'transformer'];
  // The toggle offers the loaded models (the rows, until something is loaded).
  const readyArchs = ARCHS.filter((a) => slots[a].status === 'ready');
  const options = archOptions(readyArchs.length ? readyArchs : rows);

  // The demo pair and the transformers-format hub pairs in view; the authors' .bin checkpoints and the three-way sets
  // folded (fewer rows above the prompt).
  const isBin = (p: ModelPair) => p.entries.some((e) => e.format === 'pytorch');
  const main = list.filter((p) => p.id === 'demo' || (p.entries.length === 2 && !isBin(p)));
  const three = list.filter((p) => !main.includes(p) && p.entries.length === 3);
  const more = list.filter((p) => !main.includes(p) && !three.includes(p));
  const chip = (p: ModelPair) => {
    const each = pairSlots(p).map(([slot, e]) => ({ slot, ...sizes(e) }));
    const download = each.reduce((t, x) => t + x.download, 0);
    const gpu = each.reduce((t, x) => t + x.gpu, 0);
    const tokenizerRepo = p.entries.find((e) => e.tokenizerRepo)?.tokenizerRepo;
    const on = settings.pair === p.id;
    return (
      <button
        type="button"
        role="radio"
        aria-checked={on}
        key={p.id}
        className={`pair ${on ? 'on' : ''}`}
        data-testid={`pair-${p.id}`}
        disabled={busy}
        title={
          busy
            ? 'Wait for the current load to finish'
            : p.id === 'demo' ? undefined : each.map((x) => `${ARCH_LABEL[x.slot]}: ≈ ${fmtBytes(x.download)} download, ≈ ${fmtBytes(x.gpu)} GPU`).join(' · ')
        }
        onClick={() => pick(p.id)}
      >
        <span className="pair-label">{p.id === 'demo' ? 'Demo pair (built in)' : p.label}</span>
        <span className="pair-meta">
          {p.id === 'demo' ? 'tiny models · 19 MB · works offline' : `↓ ≈ ${fmtBytes(download)} · GPU ≈ ${fmtBytes(gpu)}`}
          {tokenizerRepo ? ` · tokenizer: ${tokenizerRepo}` : ''}
        </span>
      </button>
    );
  };

  const onLoad = async () => {
    if (!chosen) return;
    setState({ pairNotice: null });
    setConfirm(null);
    if (chosen.id === 'demo') return void loadPair(chosen);
    setChecking(true);
    const r = await checkPair(settings.pair);
    setChecking(false);
    if (!r.ok) return setState({ pairNotice: r.notice });
    if (Object.values(r.checks).every((c) => c.cached)) return void loadPair(chosen);
    setConfirm({ pair: chosen, checks: r.checks });
  };
  // a new choice drops a pending download confirmation (it was sized for the old one)
  const pick = (pair: string) => {
    setConfirm(null);
    patchSettings({ pair });
  };
  const editRepo = (repo: Partial<Pick<typeof settings, 'mambaRepo' | 'transformerRepo' | 'mamba2Repo'>>) => {
    setConfirm(null);
    patchSettings(repo);
  };

  return (
    <section className="card models" data-testid="models-card">
      <div className="models-grid">
        <div>
          <div className="pairs" role="radiogroup" aria-label="Model pair">
            {main.map(chip)}
            <button
              type="button"
              role="radio"
              aria-checked={settings.pair === 'custom'}
              className={`pair ${settings.pair === 'custom' ? 'on' : ''}`}
              data-testid="pair-custom"
              disabled={busy}
              title={busy ? 'Wait for the current load to finish' : undefined}
              onClick={() => pick('custom')}
            >
              <span className="pair-label">Your own pair</span>
              <span className="pair-meta">any Mamba and GPT-NeoX repo on the hub (Mamba-2 too)</span>
            </button>
          </div>
          {three.length > 0 && (
            <details className="fold more-pairs" open={three.some((p) => p.id === settings.pair)} data-testid="three-way-pairs">
              <summary>Three-way: Mamba, Mamba-2 and Pythia side by side ({three.length})</summary>
              <div className="pairs" role="radiogroup" aria-label="Three-way sets">
                {three.map(chip)}
              </div>
            </details>
          )}
          {more.length > 0 && (
            <details className="fold more-pairs" open={more.some((p) => p.id === settings.pair)} data-testid="more-pairs">
              <summary>More pairs: the Mamba authors' original checkpoints ({more.length})</summary>
              <div className="pairs" role="radiogroup" aria-label="More model pairs">
                {more.map(chip)}
              </div>
            </details>
          )}
          {settings.pair === 'custom' && (
            <div className="row gap wrap custom-pair">
              <RepoField label="Mamba repo" value={settings.mambaRepo} placeholder="state-spaces/mamba-130m-hf" testId="repo-mamba"
                help="owner/name of a Mamba model (MambaForCausalLM)" onChange={(mambaRepo) => editRepo({ mambaRepo })} />
              <RepoField label="Transformer repo" value={settings.transformerRepo} placeholder="EleutherAI/pythia-160m" testId="repo-transformer"
                help="owner/name of a GPT-NeoX model, e.g. a Pythia" onChange={(transformerRepo) => editRepo({ transformerRepo })} />
              <RepoField label="Mamba-2 repo (optional)" value={settings.mamba2Repo} placeholder="AntonV/mamba2-130m-hf" testId="repo-mamba2"
                help="owner/name of a Mamba-2 model (Mamba2ForCausalLM): a third column, or in place of one side"
                onChange={(mamba2Repo) => editRepo({ mamba2Repo })} />
              <span className="fine">Two or three models. Each is checked from its config.json before any weights are downloaded.</span>
            </div>
          )}
          <div className="row gap load-row">
            {loading ? (
              <button type="button" className="btn btn-danger" onClick={cancelLoad} data-testid="load-cancel">
                Cancel loading
              </button>
            ) : (
              <span className="run-button">
                {loadWhy && !busy && <span className="why">{loadWhy}</span>}
                <button
                  type="button"
                  className="btn btn-primary"
                  onClick={() => void onLoad()}
                  disabled={busy || !chosen}
                  title={loadWhy ?? undefined}
                  data-testid="load-models"
                >
                  {checking ? 'Checking…' : trio ? (isLoaded ? 'Reload the three' : 'Load the three') : isLoaded ? 'Reload pair' : loaded ? 'Load this pair' : 'Load pair'}
                </button>
              </span>
            )}
            {loaded && !busy && (
              <button type="button" className="btn btn-ghost" onClick={() => void unloadAll()} data-testid="unload-models">
                Unload
              </button>
            )}
          </div>
          {confirm && (
            <ConfirmDownload
              pair={confirm.pair}
              checks={confirm.checks}
              onYes={() => {
                setConfirm(null);
                void loadPair(confirm.pair);
              }}
              onNo={() => setConfirm(null)}
            />
          )}
          <PairNoticeView />
        </div>
        <div className="slots">
          {rows.map((a) => (
            <SlotRow key={a} slot={a} />
          ))}
        </div>
      </div>
      <details className="fold" data-testid="models-more">
        <summary>{settings.pair === 'demo' ? 'What the demo pair can do · hub server' : 'Hub server'}</summary>
        <label className="field inline hub">
          <span className="field-label">Hub URL</span>
          <input type="url" value={settings.hub} onChange={(e) => patchSettings({ hub: e.target.value })} data-testid="hub-url" spellCheck={false} />
          <span className="field-help wide">Where hub models download from (the Hugging Face hub, or a mirror with the same layout). Downloads are cached by your browser.</span>
        </label>
        {settings.pair === 'demo' && <DemoResults />}
      </details>
      <div className="toolbar" data-testid="toolbar">
        <Segmented
          label="Architecture"
          value={settings.arch}
          testId="toggle-arch"
          help="Which models the tools run"
          options={options}
          onChange={(arch) => patchSettings({ arch })}
        />
        <Segmented
          label="Scan kernel"
          value={settings.scan}
          testId="toggle-scan"
          help="How Mamba's (and Mamba-2's) prefill runs its scan"
          options={scanVariants.map((value) => ({ value, ...SCAN_KERNELS[value] }))}
          onChange={(scan) => patchSettings({ scan })}
        />
        <Segmented
          label="Attention kernel"
          value={settings.attn}
          testId="toggle-attn"
          help="How the Transformer's prefill runs attention"
          options={attentionVariants.map((value) => ({ value, ...ATTENTION_KERNELS[value] }))}
          onChange={(attn) => patchSettings({ attn })}
        />
      </div>
    </section>
  );
}
