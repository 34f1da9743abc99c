/** CSV export: every run flattened into rows (one per measured point), with a run id and kind column. */
import type { RunRecord } from '../store/store';

type Row = Record<string, string | number | boolean | null>;

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: Row[]): string {
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  const lines = [cols.join(',')];
  for (const r of rows) lines.push(cols.map((c) => cell(r[c])).join(','));
  return lines.join('\n') + '\n';
}

function flat(prefix: string, o: unknown, out: Row): void {
  if (o === null || o === undefined) return;
  if (typeof o !== 'object') {
    out[prefix] = o as string | number | boolean;
    return;
  }
  if (Array.isArray(o)) return; // arrays (token timings, loss curves) are exported as their own rows
  for (const [k, v] of Object.entries(o)) flat(prefix ? `${prefix}.${k}` : k, v, out);
}

/** Rows for one run: sweep/recall points, generate stats per model, loss curve positions. */
export function runRows(run: RunRecord): Row[] {
  const base = { run: run.id, kind: run.kind, startedAt: run.startedAt };
  const d = run.data as Record<string, unknown> | null;
  const rows: Row[] = [];
  const push = (record: string, o: unknown) => {
    const r: Row = { ...base, record };
    flat('', o, r);
    rows.push(r);
  };
  if (!d || typeof d !== 'object') return [{ ...base, record: 'empty' }];
  for (const [key, value] of Object.entries(d)) {
    if (Array.isArray(value)) {
      for (const v of value) {
        const lc = v as { losses?: number[]; arch?: string; length?: number };
        if (Array.isArray(lc?.losses)) {
          lc.losses.forEach((loss, position) => rows.push({ ...base, record: 'loss', arch: lc.arch ?? '', length: lc.length ?? null, position, loss }));
        } else push(key, v);
      }
    } else if (value && typeof value === 'object') {
      for (const [sub, v] of Object.entries(value)) push(`${key}.${sub}`, v);
    }
  }
  return rows.length ? rows : [{ ...base, record: 'empty' }];
}

export function runsToCsv(runs: RunRecord[]): string {
  const rows = runs.flatMap(runRows);
  return toCsv(rows.length ? rows : [{ run: '', kind: '', record: 'no runs yet' }]);
}
