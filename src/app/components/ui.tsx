/** Small presentational pieces shared by the panels. */
import type { ReactNode } from 'react';
import type { Arch } from '../../models/types';

export function Card(props: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string; testId?: string }) {
  return (
    <section className={`card ${props.className ?? ''}`} data-testid={props.testId}>
      {(props.title || props.actions) && (
        <header className="card-head">
          {props.title && <h3>{props.title}</h3>}
          {props.actions && <div className="card-actions">{props.actions}</div>}
        </header>
      )}
      {props.children}
    </section>
  );
}

/** One line under a setting saying what it does (in place, not only in a tooltip). */
function Help({ text }: { text?: ReactNode }) {
  return text ? <span className="field-help">{text}</span> : null;
}

export function Segmented<T extends string>(props: {
  label: string;
  value: T;
  options: { value: T; label: string; title?: string }[];
  onChange: (v: T) => void;
  testId?: string;
  disabled?: boolean;
  /** Why the choice is disabled (shown as its tooltip). */
  why?: string;
  help?: ReactNode;
}) {
  return (
    <div className="field">
      <span className="field-label">{props.label}</span>
      <div className="segmented" role="radiogroup" aria-label={props.label} data-testid={props.testId}>
        {props.options.map((o) => (
          <button
            key={o.value}
            type="button"
            role="radio"
            aria-checked={props.value === o.value}
            className={props.value === o.value ? 'on' : ''}
            title={props.disabled && props.why ? props.why : o.title}
            disabled={props.disabled}
            onClick={() => props.onChange(o.value)}
          >
            {o.label}
          </button>
        ))}
      </div>
      <Help text={props.help} />
    </div>
  );
}

export function NumberField(props: {
  label: string; value: number; onChange: (v: number) => void; min?: number; max?: number; step?: number; testId?: string; title?: string;
  /** One line under the field: what the setting does (units, what 0 means). */
  help?: ReactNode;
}) {
  return (
    <label className="field" title={props.title}>
      <span className="field-label">{props.label}</span>
      <input
        type="number"
        value={Number.isFinite(props.value) ? props.value : ''}
        min={props.min}
        max={props.max}
        step={props.step ?? 1}
        data-testid={props.testId}
        onChange={(e) => {
          const v = Number(e.target.value);
          if (Number.isFinite(v)) props.onChange(v);
        }}
      />
      <Help text={props.help} />
    </label>
  );
}

/** A comma-separated list of numbers (e.g. context lengths). */
export function ListField(props: {
  label: string; value: number[]; onChange: (v: number[]) => void; testId?: string; hint?: string; help?: ReactNode;
  /** Disabled, with the reason shown in place of the help. */
  disabledWhy?: string | null;
}) {
  return (
    <label className="field" title={props.disabledWhy ?? undefined}>
      <span className="field-label">{props.label}</span>
      <input
        type="text"
        defaultValue={props.value.join(', ')}
        data-testid={props.testId}
        placeholder={props.hint}
        disabled={!!props.disabledWhy}
        onBlur={(e) => {
          const v = e.target.value.split(/[,\s]+/).filter(Boolean).map(Number).filter((x) => Number.isFinite(x) && x >= 0);
          if (v.length) props.onChange(v);
          e.target.value = (v.length ? v : props.value).join(', ');
        }}
      />
      <Help text={props.disabledWhy ?? props.help} />
    </label>
  );
}

export function Progress(props: { done: number; total: number; label?: string; testId?: string }) {
  const pct = props.total > 0 ? Math.min(100, (props.done / props.total) * 100) : 0;
  return (
    <div className="progress" data-testid={props.testId}>
      <div className="progress-bar" role="progressbar" aria-valuenow={Math.round(pct)} aria-valuemin={0} aria-valuemax={100}>
        <div style={{ width: `${pct}%` }} />
      </div>
      {props.label !== undefined && <span className="progress-label">{props.label}</span>}
    </div>
  );
}

export function Stat(props: { label: string; value: ReactNode; unit?: string; testId?: string; title?: string }) {
  return (
    <div className="stat" data-testid={props.testId} title={props.title}>
      <div className="stat-value">
        {props.value}
        {props.unit && <span className="stat-unit"> {props.unit}</span>}
      </div>
      <div className="stat-label">{props.label}</div>
    </div>
  );
}

export function Badge(props: { kind: 'ok' | 'warn' | 'bad' | 'muted' | 'info'; children: ReactNode; testId?: string }) {
  return (
    <span className={`badge badge-${props.kind}`} data-testid={props.testId}>
      {props.children}
    </span>
  );
}

export function Notice(props: { kind: 'error' | 'warn' | 'info'; children: ReactNode; testId?: string }) {
  return (
    <div className={`notice notice-${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'} data-testid={props.testId}>
      {props.children}
    </div>
  );
}

/**
 * A run button (Cancel while running). When disabled it says why: as its tooltip and in a line beside it.
 */
export function RunButton(props: { running: boolean; onRun: () => void; onCancel: () => void; label: string; disabled?: boolean; why?: string | null; testId?: string }) {
  if (props.running) {
    return (
      <button type="button" className="btn btn-danger" onClick={props.onCancel} data-testid={props.testId ? `${props.testId}-cancel` : undefined}>
        Cancel
      </button>
    );
  }
  const why = props.disabled ? (props.why ?? 'Not available right now') : null;
  return (
    <span className="run-button">
      {why && (
        <span className="why" data-testid={props.testId ? `${props.testId}-why` : undefined}>
          {why}
        </span>
      )}
      <button type="button" className="btn btn-primary" onClick={props.onRun} disabled={props.disabled} title={why ?? undefined} data-testid={props.testId}>
        {props.label}
      </button>
    </span>
  );
}

export function ArchDot(props: { arch: Arch }) {
  return <span className={`dot dot-${props.arch}`} aria-hidden />;
}
