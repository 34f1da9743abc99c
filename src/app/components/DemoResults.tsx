/**
 * What the built-in demo pair can do: held-out loss, passkey accuracy vs context length and (when measured) the
 * multikey capacity sweep (accuracy vs the number of facts K), measured with this project's recall lab (public/models/demo-results.json, written by tools/demo-card.mjs). Shown under the model
 * picker while the demo pair is chosen.
 */
import { useEffect, useState } from 'react';
import { demoCard } from '../controller';
import { fmtLen, fmtPct } from '../format';
import { ArchDot } from './ui';

interface ArchResults {
  params: number;
  heldoutLoss: Record<string, number>;
  passkey: (number | null)[];
  copy: (number | null)[];
}

/** The capacity sweep: accuracy[length index][K index] per model; null = not measured (the K facts do not fit in L). */
interface CapacityResults {
  keys: number[];
  lengths: number[];
  /** The headline length: the most K values measured for both models. */
  length: number;
  probesPerCell: number;
  mamba: (number | null)[][];
  transformer: (number | null)[][];
}

interface DemoResultsFile {
  format: string;
  trainLength: number;
  /** The training sequence lengths (a curriculum), when there were several. */
  trainLengths?: number[];
  steps: number;
  trainTokens: number;
  /** Share of the training sequences that were synthetic recall tasks (after the skill stage). */
  synthFrac: number;
  /** The run's opening steps of short synthetic recall rows only (the skill stage), when it had one. */
  skillStage?: { steps: number; lengths: number[] };
  device: string;
  lengths: number[];
  depths: number[];
  probesPerCell: number;
  mamba: ArchResults;
  transformer: ArchResults;
  multikey?: CapacityResults;
}

export function DemoResults() {
  const [data, setData] = useState<DemoResultsFile | null>(null);
  useEffect(() => {
    let live = true;
    // the card is optional: without the file the picker shows nothing extra
    void demoCard().then((j) => { if (live && j) setData(j as unknown as DemoResultsFile); });
    return () => { live = false; };
  }, []);
  if (!data) return null;
  const rows = [['mamba', 'Mamba', data.mamba], ['transformer', 'Transformer', data.transformer]] as const;
  return (
    <div className="demo-results" data-testid="demo-results">
      <div className="section-title">What the demo pair can do</div>
      <div className="table-wrap">
        <table className="table compact">
          <thead>
            <tr>
              <th>Model</th>
              <th title="Average loss per token on held-out text, in nats: lower is better">Loss at 512 tokens</th>
              <th title="Average loss per token on held-out text, in nats: lower is better">Loss at 2k</th>
              {data.lengths.map((l) => (
                <th key={l} className={l > data.trainLength ? 'beyond' : ''} title={l > data.trainLength ? 'longer than any training sequence' : ''}>
                  Passkey {fmtLen(l)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map(([arch, label, r]) => (
              <tr key={arch} data-testid={`demo-results-${arch}`}>
                <td>
                  <ArchDot arch={arch} /> {label} <span className="muted">{(r.params / 1e6).toFixed(1)}M</span>
                </td>
                <td>{r.heldoutLoss['512']?.toFixed(2)}</td>
                <td>{r.heldoutLoss['2048']?.toFixed(2)}</td>
                {r.passkey.map((v, i) => (
                  <td key={i}>{v === null ? '—' : fmtPct(v)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="fine">
        Loss: nats per token on held-out text (lower is better). Both trained on the same {(data.trainTokens / 1e6).toFixed(1)}M tokens ({data.steps.toLocaleString('en-US')} steps of{' '}
        {data.trainLengths && data.trainLengths.length > 1 ? `${data.trainLengths.map(fmtLen).join(' / ')}-token` : `${data.trainLength}-token`} sequences,{' '}
        {fmtPct(data.synthFrac)} of them synthetic recall tasks
        {data.skillStage
          ? `; the first ${data.skillStage.steps.toLocaleString('en-US')} steps were short recall tasks only, ${data.skillStage.lengths.map(fmtLen).join(' / ')} tokens, until Mamba answered the passkey`
          : ''}). Passkey: exact match over {data.probesPerCell} probes per length ({data.depths.length} depths), measured with this page's recall lab on an {data.device};
        lengths past {data.trainLength} were never seen in training. Run the Recall lab to measure it on your GPU.
      </p>
      {data.multikey && <Capacity mk={data.multikey} trainLength={data.trainLength} />}
    </div>
  );
}

/** The multikey capacity sweep: accuracy vs K at the headline length, and the whole length × K grid on demand. */
function Capacity({ mk, trainLength }: { mk: CapacityResults; trainLength: number }) {
  const rows = [['mamba', 'Mamba'], ['transformer', 'Transformer']] as const;
  const li = mk.lengths.indexOf(mk.length);
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? '—' : fmtPct(v));
  return (
    <div data-testid="demo-multikey">
      <div className="table-wrap">
        <table className="table compact">
          <thead>
            <tr>
              <th title="K key-value facts in the document, one asked at the end">Multikey at {fmtLen(mk.length)}</th>
              {mk.keys.map((k) => (
                <th key={k}>K={k}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map(([arch, label]) => (
              <tr key={arch} data-testid={`demo-multikey-${arch}`}>
                <td>
                  <ArchDot arch={arch} /> {label}
                </td>
                {mk.keys.map((k, ki) => (
                  <td key={k}>{pct(mk[arch][li]?.[ki])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <details className="fine">
        <summary>Capacity by length and K</summary>
        <div className="table-wrap">
          <table className="table compact" data-testid="demo-multikey-grid">
            <thead>
              <tr>
                <th>Model</th>
                <th>L</th>
                {mk.keys.map((k) => (
                  <th key={k}>K={k}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.flatMap(([arch, label]) =>
                mk.lengths.map((l, i) => (
                  <tr key={`${arch}-${l}`}>
                    <td>
                      <ArchDot arch={arch} /> {label}
                    </td>
                    <td title={l > trainLength ? 'longer than any training sequence' : ''}>{l > trainLength ? <i>{fmtLen(l)}</i> : fmtLen(l)}</td>
                    {mk.keys.map((k, ki) => (
                      <td key={k}>{pct(mk[arch][i]?.[ki])}</td>
                    ))}
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </div>
      </details>
      <p className="fine">
        Multikey: K facts “The code for <i>word</i> is <i>1234</i>.” spread through the document, one asked at the end; exact match over {mk.probesPerCell} probes per
        cell (— : the K facts do not fit in that length; lengths past {fmtLen(trainLength)} were never seen in training). A fixed-size state has to hold all K at
        once; attention keeps every one in its cache.
      </p>
    </div>
  );
}
