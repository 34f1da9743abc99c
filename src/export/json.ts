/** JSON export: everything needed to reproduce and compare runs (device, models, settings, every measured point). */
import type { AppState } from '../store/store';

export const EXPORT_FORMAT = 'mamba-vs-transformer-runs/1';

export function exportDocument(s: AppState): Record<string, unknown> {
  const gpu = s.gpu.kind === 'ready' ? s.gpu.info : s.gpu.kind === 'lost' ? s.gpu.info ?? null : null;
  return {
    format: EXPORT_FORMAT,
    exportedAt: new Date().toISOString(),
    userAgent: typeof navigator !== 'undefined' ? navigator.userAgent : '',
    gpu,
    calibration: s.calibration,
    settings: s.settings,
    models: { mamba: s.slots.mamba.info ?? null, mamba2: s.slots.mamba2.info ?? null, transformer: s.slots.transformer.info ?? null },
    runs: s.runs,
  };
}

export function exportJson(s: AppState): string {
  return JSON.stringify(exportDocument(s), null, 2);
}
