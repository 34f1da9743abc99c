/**
 * Model pair picker (demo pair + hub pairs, with sizes), hub URL setting, load progress, cancel, and the kernel toggles
 * (a setting: each run takes the kernels chosen when it starts, src/app/controller.ts).
 */
import { useStore, patchSettings } from '../../store/store';
import type { Arch } from '../../models/types';
import type { RegistryEntry } from '../../hub/registry';
import { ATTENTION_KERNELS, attentionVariants, SCAN_KERNELS, scanVariants } from '../../models/kernel-choice';
import { cancelLoad, loadPair, pairs, unloadAll, ARCH_LABEL } from '../controller';
import { fmtBytes } from '../format';
import { ArchDot, Badge, Progress, Segmented } from './ui';
import { DemoResults } from './DemoResults';

/** Approximate download bytes and GPU weight bytes (weights keep the checkpoint's precision on the GPU). */
function sizes(e: RegistryEntry): { download: number; gpu: number } {
  const bytes = e.checkpointDtype === 'f16' ? 2 : 4;
  return { download: e.approxDownloadBytes ?? 0, gpu: e.params * bytes };
}

function SlotRow({ slot }: { slot: Arch }) {
  const st = useStore((s) => s.slots[slot]);
  const p = st.progress;
  return (
    <div className="slot" data-testid={`slot-${slot}`} data-status={st.status}>
      <div className="slot-head">
        <ArchDot arch={slot} />
        <strong>{ARCH_LABEL[slot]}</strong>
        <span className="muted mono">{st.info?.source ?? ''}</span>
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
          label={p ? `${p.file} · ${fmtBytes(p.loaded)}${p.total ? ` / ${fmtBytes(p.total)}` : ''}${p.fromCache ? ' (cache)' : ''}` : 'starting…'}
          testId={`progress-${slot}`}
        />
      )}
      {st.status === 'ready' && st.info && (
        <div className="slot-info muted">
          {st.info.name} · vocab {st.info.vocabSize.toLocaleString('en-US')} · context ≤ {st.info.maxContext.toLocaleString('en-US')} · weights{' '}
          {fmtBytes(st.info.memory.weights)} on GPU · loaded in {(st.info.loadMs / 1000).toFixed(1)} s
          {st.info.weights && (
            <span data-testid={`weights-${slot}`}>
              {' · '}
              {st.info.weights.format === 'pytorch' ? 'PyTorch .bin' : 'safetensors'}
              {st.info.weights.files.length > 1 ? ` (${st.info.weights.files.length} shards)` : ''}
            </span>
          )}
          {st.info.tokenizerFrom && (
            <span data-testid={`tokenizer-from-${slot}`} title="This repo has no tokenizer of its own; its authors name this one.">
              {' · '}tokenizer from {st.info.tokenizerFrom}
            </span>
          )}
        </div>
      )}
      {st.status === 'error' && <div className="slot-error">{st.error}</div>}
      {st.status === 'empty' && <div className="muted small slot-info">{st.error ?? 'Pick a pair and press Load.'}</div>}
    </div>
  );
}

export function ModelsCard() {
  const settings = useStore((s) => s.settings);
  const slots = useStore((s) => s.slots);
  const loading = slots.mamba.status === 'loading' || slots.transformer.status === 'loading';
  const loaded = slots.mamba.status === 'ready' || slots.transformer.status === 'ready';
  const list = pairs();
  return (
    <section className="card models" data-testid="models-card">
      <div className="models-grid">
        <div>
          <div className="section-title">Model pair</div>
          <div className="pairs" role="radiogroup" aria-label="Model pair">
            {list.map((p) => {
              const m = sizes(p.mamba);
              const t = sizes(p.transformer);
              const on = settings.pair === p.id;
              return (
                <button
                  type="button"
                  role="radio"
                  aria-checked={on}
                  key={p.id}
                  className={`pair ${on ? 'on' : ''}`}
                  data-testid={`pair-${p.id}`}
                  disabled={loading}
                  onClick={() => patchSettings({ pair: p.id })}
                >
                  <span className="pair-label">{p.label}</span>
                  {p.id === 'demo' ? (
                    <span className="pair-meta">served by this page · works offline</span>
                  ) : (
                    <span className="pair-meta" title={`Mamba: ≈ ${fmtBytes(m.download)} download, ≈ ${fmtBytes(m.gpu)} GPU · Transformer: ≈ ${fmtBytes(t.download)} download, ≈ ${fmtBytes(t.gpu)} GPU`}>
                      ↓ ≈ {fmtBytes(m.download + t.download)} · GPU ≈ {fmtBytes(m.gpu + t.gpu)}
                      {p.mamba.tokenizerRepo ? ` · tokenizer: ${p.mamba.tokenizerRepo}` : ''}
                    </span>
                  )}
                </button>
              );
            })}
          </div>
          <div className="row gap">
            {loading ? (
              <button type="button" className="btn btn-danger" onClick={cancelLoad} data-testid="load-cancel">
                Cancel loading
              </button>
            ) : (
              <button type="button" className="btn btn-primary" onClick={() => void loadPair(settings.pair)} data-testid="load-models">
                {loaded ? 'Reload pair' : 'Load pair'}
              </button>
            )}
            {loaded && !loading && (
              <button type="button" className="btn btn-ghost" onClick={() => void unloadAll()} data-testid="unload-models">
                Unload
              </button>
            )}
            <label className="field inline hub">
              <span className="field-label">Hub URL</span>
              <input
                type="url"
                value={settings.hub}
                onChange={(e) => patchSettings({ hub: e.target.value })}
                data-testid="hub-url"
                spellCheck={false}
              />
            </label>
          </div>
          <p className="fine">Downloads are cached by the browser: reopening a pair loads it from the cache, offline.</p>
          {settings.pair === 'demo' && <DemoResults />}
        </div>
        <div className="slots">
          <SlotRow slot="mamba" />
          <SlotRow slot="transformer" />
        </div>
      </div>
      <div className="toolbar" data-testid="toolbar">
        <Segmented
          label="Architecture"
          value={settings.arch}
          testId="toggle-arch"
          options={[
            { value: 'both', label: 'Both' },
            { value: 'mamba', label: 'Mamba' },
            { value: 'transformer', label: 'Transformer' },
          ]}
          onChange={(arch) => patchSettings({ arch })}
        />
        <Segmented
          label="Scan kernel"
          value={settings.scan}
          testId="toggle-scan"
          options={scanVariants.map((value) => ({ value, ...SCAN_KERNELS[value] }))}
          onChange={(scan) => patchSettings({ scan })}
        />
        <Segmented
          label="Attention kernel"
          value={settings.attn}
          testId="toggle-attn"
          options={attentionVariants.map((value) => ({ value, ...ATTENTION_KERNELS[value] }))}
          onChange={(attn) => patchSettings({ attn })}
        />
      </div>
    </section>
  );
}
