import { useEffect } from 'react';
import { setState, useStore } from '../store/store';
import { parseSettings, parseSharedDocument, serializeSettings, type Tab } from '../store/url';
import { boot, checkLinkedPair, recover, shutdown } from './controller';
import { Header } from './components/Header';
import { NoWebGPU } from './components/NoWebGPU';
import { ModelsCard } from './components/ModelsCard';
import { ComparePanel } from './components/ComparePanel';
import { ScalingPanel } from './components/ScalingPanel';
import { RecallPanel, useBundledDocs } from './components/RecallPanel';
import { ClaimsPanel } from './components/ClaimsPanel';
import { BenchmarksPanel } from './components/BenchmarksPanel';
import { Notice } from './components/ui';

const TABS: { id: Tab; label: string; hint: string }[] = [
  { id: 'compare', label: 'Compare', hint: 'One prompt, the models side by side' },
  { id: 'scaling', label: 'Scaling', hint: 'Speed and memory vs context length' },
  { id: 'recall', label: 'Recall lab', hint: 'Passkey, copy-span and loss-by-position probes' },
  { id: 'claims', label: 'Claims check', hint: 'The debate, measured on your GPU' },
  { id: 'benchmarks', label: 'Benchmarks', hint: 'Committed results from datacenter GPUs' },
];

/** Settings ↔ query string: read once at start, then every change is written back (replaceState). */
function useUrlState(): void {
  useEffect(() => {
    const search = location.search;
    // The address bar then shows the settings only: text a link carried moves into the page.
    const stop = useStore.subscribe((s, prev) => {
      if (s.settings === prev.settings) return;
      const q = serializeSettings(s.settings);
      const url = `${location.pathname}${q ? `?${q}` : ''}${location.hash}`;
      if (url !== `${location.pathname}${location.search}${location.hash}`) history.replaceState(null, '', url);
    });
    const settings = parseSettings(search);
    // a pasted document travels in a link only when its author ticked the share box
    const doc = parseSharedDocument(search);
    if (doc !== null) setState({ settings: { ...settings, doc: 'pasted' }, document: { text: doc, source: 'pasted', tokens: {} } });
    else setState({ settings });
    checkLinkedPair();
    return stop;
  }, []);
}

function Toasts() {
  const toasts = useStore((s) => s.toasts);
  return (
    <div className="toasts" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className={`toast toast-${t.kind}`} data-testid="toast">
          {t.text}
        </div>
      ))}
    </div>
  );
}

export function App() {
  useUrlState();
  useBundledDocs();
  const gpu = useStore((s) => s.gpu);
  const tab = useStore((s) => s.settings.tab);
  useEffect(() => {
    void boot();
    return () => shutdown();
  }, []);

  return (
    <div className="app">
      <Header />
      <main>
        {gpu.kind === 'no-webgpu' && <NoWebGPU message={gpu.message} />}
        {gpu.kind === 'starting' && (
          <div className="starting" data-testid="starting">
            <div className="spinner" /> Starting WebGPU…
          </div>
        )}
        {gpu.kind === 'error' && (
          <Notice kind="error" testId="error">
            The GPU could not be started: {gpu.message}
          </Notice>
        )}
        {gpu.kind === 'lost' && (
          <Notice kind="error" testId="device-lost">
            <b>The GPU device was lost</b> ({gpu.message}). This happens when the driver resets, the GPU runs out of memory, or another tab takes it. Your results are
            kept.{' '}
            <button type="button" className="btn btn-primary btn-small" onClick={() => void recover()} data-testid="recover">
              Recover
            </button>
          </Notice>
        )}
        {(gpu.kind === 'ready' || gpu.kind === 'lost') && (
          <>
            <ModelsCard />
            <nav className="tabs" role="tablist" aria-label="Tools">
              {TABS.map((t) => (
                <button
                  key={t.id}
                  type="button"
                  role="tab"
                  aria-selected={tab === t.id}
                  className={tab === t.id ? 'tab on' : 'tab'}
                  title={t.hint}
                  data-testid={`tab-${t.id}`}
                  onClick={() => setState((s) => ({ settings: { ...s.settings, tab: t.id } }))}
                >
                  {t.label}
                </button>
              ))}
            </nav>
            <div role="tabpanel">
              {tab === 'compare' && <ComparePanel />}
              {tab === 'scaling' && <ScalingPanel />}
              {tab === 'recall' && <RecallPanel />}
              {tab === 'claims' && <ClaimsPanel />}
              {tab === 'benchmarks' && <BenchmarksPanel />}
            </div>
          </>
        )}
      </main>
      <footer className="foot">
        All GPU work runs in a Web Worker with this project's own WGSL kernels. Text you type or paste stays in your browser: a share link carries it only
        if you tick the box that says so.
      </footer>
      <Toasts />
    </div>
  );
}
