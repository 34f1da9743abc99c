/** Page header: title, GPU, export and share buttons. */
import { exportJson } from '../../export/json';
import { runsToCsv } from '../../export/csv';
import { downloadText, stamp } from '../../export/download';
import { getState, toast, useStore } from '../../store/store';
import { CalibrationTag } from './Roofline';

export function Header() {
  const gpu = useStore((s) => s.gpu);
  const runs = useStore((s) => s.runs.length);
  const info = gpu.kind === 'ready' ? gpu.info : gpu.kind === 'lost' ? gpu.info : undefined;
  const gpuName = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'WebGPU adapter' : '';
  const share = async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      toast('Link with these settings copied.');
    } catch {
      toast(`Copy this link: ${location.href}`, 'info', 10000);
    }
  };
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
        {gpu.kind === 'ready' && (
          <span className="gpu-chip" data-testid="gpu-chip" title={`${gpu.info.features.join(', ') || 'no optional features'}`}>
            <span className={`led ${gpu.selftest.ok ? 'ok' : 'bad'}`} />
            {gpuName}
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
        <button type="button" className="btn btn-ghost" data-testid="export-csv" onClick={() => downloadText(runsToCsv(getState().runs), `mamba-vs-transformer-${stamp()}.csv`, 'text/csv')}>
          CSV
        </button>
        <button type="button" className="btn btn-ghost" data-testid="share" onClick={() => void share()}>
          Share link
        </button>
      </div>
    </header>
  );
}
