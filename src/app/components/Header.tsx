/** Page header: title, the GPU adapter as it describes itself, export and share. */
import { useState } from 'react';
import { exportJson } from '../../export/json';
import { runsToCsv } from '../../export/csv';
import { downloadText, stamp } from '../../export/download';
import { getState, toast, useStore } from '../../store/store';
import { serializeSettings } from '../../store/url';
import { CalibrationTag } from './Roofline';
import type { GpuInfo } from '../../worker/protocol';

/** Links longer than this are refused (servers and chat apps cut long URLs); export JSON instead. */
const MAX_LINK_CHARS = 16_000;

const FEATURE_LABEL: Record<string, string> = { 'shader-f16': 'f16', subgroups: 'subgroups', 'timestamp-query': 'timestamps' };

/** What the adapter reports: vendor, architecture, device/description, and the optional features the kernels use. */
export function adapterSummary(info: GpuInfo): { name: string; tags: string[]; title: string } {
  const i = info as GpuInfo & { device?: string; subgroupMinSize?: number; subgroupMaxSize?: number };
  const parts = [i.vendor, i.architecture, i.description || i.device].filter((x) => !!x && x.trim());
  const name = parts.length ? parts.join(' · ') : 'WebGPU adapter (the browser does not name it)';
  const tags = info.features.map((f) => {
    if (f === 'subgroups' && i.subgroupMinSize && i.subgroupMaxSize) {
      return `subgroups ${i.subgroupMinSize === i.subgroupMaxSize ? i.subgroupMinSize : `${i.subgroupMinSize}–${i.subgroupMaxSize}`}`;
    }
    return FEATURE_LABEL[f] ?? f;
  });
  const lim = info.limits;
  const title = [
    `Vendor: ${i.vendor || '(not reported)'}`,
    `Architecture: ${i.architecture || '(not reported)'}`,
    i.description ? `Description: ${i.description}` : '',
    `Features used: ${info.features.join(', ') || 'none of shader-f16, subgroups, timestamp-query'}`,
    lim.maxStorageBufferBindingSize ? `Largest storage binding: ${(lim.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB` : '',
    lim.maxComputeWorkgroupStorageSize ? `Workgroup memory: ${(lim.maxComputeWorkgroupStorageSize / 1024).toFixed(0)} KiB` : '',
  ].filter(Boolean).join('\n');
  return { name, tags, title };
}

function ShareDialog({ onClose }: { onClose: () => void }) {
  const settings = useStore((s) => s.settings);
  const doc = useStore((s) => s.document);
  const [withText, setWithText] = useState(false);
  const pasted = settings.doc === 'pasted' && doc.source === 'pasted' ? doc.text : '';
  const q = serializeSettings(settings, { include: withText, document: pasted });
  const url = `${location.origin}${location.pathname}${q ? `?${q}` : ''}`;
  const tooLong = url.length > MAX_LINK_CHARS;
  const chars = settings.prompt.length + pasted.length;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(url);
      toast(withText ? 'Link with these settings and your text copied.' : 'Link with these settings copied (no typed or pasted text).');
    } catch {
      toast(`Copy this link: ${url}`, 'info', 10000);
    }
    onClose();
  };
  return (
    <div className="share-pop" role="dialog" aria-label="Share a link" data-testid="share-dialog">
      <p className="fine">The link carries the settings (tab, pair, kernels, lengths, sampling) — not the prompt or a pasted document.</p>
      <label className="check">
        <input type="checkbox" checked={withText} onChange={(e) => setWithText(e.target.checked)} data-testid="share-include-text" />
        Also put my prompt{pasted ? ' and the pasted document' : ''} in the link ({chars.toLocaleString('en-US')} characters: anyone with the link can read them)
      </label>
      {tooLong && (
        <p className="fine bad" data-testid="share-too-long">
          That link would be {url.length.toLocaleString('en-US')} characters, too long to share. Untick the box, or use Export JSON.
        </p>
      )}
      <input className="share-url mono" readOnly value={tooLong ? '' : url} data-testid="share-url" aria-label="Link" />
      <div className="row gap">
        <button type="button" className="btn btn-primary btn-small" onClick={() => void copy()} disabled={tooLong} title={tooLong ? 'The link is too long: untick the box' : undefined} data-testid="share-copy">
          Copy link
        </button>
        <button type="button" className="btn btn-ghost btn-small" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}

export function Header() {
  const gpu = useStore((s) => s.gpu);
  const runs = useStore((s) => s.runs.length);
  const [sharing, setSharing] = useState(false);
  const info = gpu.kind === 'ready' ? gpu.info : gpu.kind === 'lost' ? gpu.info : undefined;
  const a = info ? adapterSummary(info) : null;
  return (
    <header className="top">
      <div className="brand">
        <div className="logo" aria-hidden>
          <span className="l1" />
          <span className="l2" />
        </div>
        <div>
          <h1>Mamba vs Transformer</h1>
          <div className="tagline">Run both on your GPU through WebGPU — speed, memory and recall as context grows.</div>
        </div>
      </div>
      <div className="top-actions">
        {gpu.kind === 'ready' && a && (
          <span className="gpu-chip" data-testid="gpu-chip" title={a.title}>
            <span className={`led ${gpu.selftest.ok ? 'ok' : 'bad'}`} />
            <span data-testid="gpu-name">{a.name}</span>
            {a.tags.map((t) => (
              <span className="chip-tag" key={t} data-testid="gpu-feature">
                {t}
              </span>
            ))}
            <CalibrationTag />
            <span data-testid="selftest" data-ok={String(gpu.selftest.ok)} className="sr-only">
              Self-test (copy kernel): {gpu.selftest.ok ? 'ok' : `max error ${gpu.selftest.maxAbsError}`}
            </span>
          </span>
        )}
        <button
          type="button"
          className="btn btn-ghost"
          data-testid="export-json"
          title="Every run with its settings, device and model info"
          onClick={() => downloadText(exportJson(getState()), `mamba-vs-transformer-${stamp()}.json`, 'application/json')}
        >
          Export JSON{runs ? ` (${runs})` : ''}
        </button>
        <button
          type="button"
          className="btn btn-ghost"
          data-testid="export-csv"
          title="Every measured point as a table row"
          onClick={() => downloadText(runsToCsv(getState().runs), `mamba-vs-transformer-${stamp()}.csv`, 'text/csv')}
        >
          CSV
        </button>
        <span className="share-wrap">
          <button type="button" className="btn btn-ghost" data-testid="share" onClick={() => setSharing((x) => !x)} aria-expanded={sharing}>
            Share link
          </button>
          {sharing && <ShareDialog onClose={() => setSharing(false)} />}
        </span>
      </div>
    </header>
  );
}
