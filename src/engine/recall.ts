/**
 * The recall lab (Recall tab, Claims, `npm run recall`): passkey, copy-span and multikey probes and the loss by
 * position over a document, at several context lengths. The run is a list of cells (length, probe[, K]); within a
 * cell the models take turns probe by probe, so both have results early. A model stops at the first length that does
 * not fit (./capacity); a multikey cell whose K facts do not fit in the length is skipped and reported.
 */
import type { KernelChoice } from '../models/kernel-choice';
import type { Arch } from '../models/types';
import { multikeyCell, probeSeed, runCopyProbe, runMultikeyProbe, runPasskeyProbe, type ProbeOutcome } from '../recall/run';
import type { ProbeKind, RecallPoint, TextTokenizer } from '../recall/types';
import { CapacityStops } from './capacity';
import { checkAbort } from './errors';
import type { Emit, Models, RunEnd, TokenizedModel } from './events';
import { lossCurve } from './loss-curve';
import { probeTokenizer, runModels, settle } from './run';

const now = () => (globalThis.performance ?? Date).now();

export interface RecallParams {
  slots: Arch[];
  probes: ProbeKind[];
  /** The document text (pasted or bundled); tiled when shorter than a length. */
  document: string;
  lengths: number[];
  /** 0 = start of the document, 1 = end. */
  depths: number[];
  trials: number;
  seed: number;
  /** multikey: the numbers of facts K; each (length, K) cell runs `keyTrials` probes. */
  keys?: number[];
  /** multikey: its own lengths, run after the other probes' cells, in this order (default: at each of `lengths`,
   *  with the other probes). */
  keyLengths?: number[];
  /** multikey: probes per (length, K) cell (default depths × trials). */
  keyTrials?: number;
  /** No cell starts after this many ms of the run (the CLI's --max-seconds); the cut is a 'limit' event (reason
   *  'time') for each model. Default: no limit. */
  maxMs?: number;
  kernels: KernelChoice;
}

type Cell = { length: number; probe: 'passkey' | 'copy' | 'loss' } | { length: number; probe: 'multikey'; keys: number };

/** The run's cells in order: per length its probes (multikey per K, unless it has its own lengths), then multikey's own. */
export function recallCells(p: RecallParams): Cell[] {
  const keys = p.keys ?? [];
  const cells: Cell[] = [];
  for (const length of p.lengths) {
    for (const probe of p.probes) {
      if (probe !== 'multikey') cells.push({ length, probe });
      else if (!p.keyLengths) for (const k of keys) cells.push({ length, probe, keys: k });
    }
  }
  if (p.probes.includes('multikey') && p.keyLengths) for (const length of p.keyLengths) for (const k of keys) cells.push({ length, probe: 'multikey', keys: k });
  return cells;
}

interface Subject {
  model: TokenizedModel;
  tok: TextTokenizer;
  docIds: number[];
}

export async function runRecall(models: Models, p: RecallParams, emit: Emit, signal: AbortSignal): Promise<RunEnd> {
  return settle(signal, async () => {
    const t0 = now();
    const chosen = runModels(models, p.slots, p.kernels);
    const subjects = new Map<Arch, Subject>();
    for (const [slot, model] of chosen) {
      const tok = probeTokenizer(model);
      const docIds = tok.encode(p.document);
      if (docIds.length === 0) throw new RangeError('The document is empty');
      subjects.set(slot, { model, tok, docIds });
    }
    if (p.probes.includes('multikey') && !p.keys?.length) throw new RangeError('The multikey probe needs at least one K (number of facts)');
    const perCell = p.depths.length * p.trials;
    const keyTrials = p.keyTrials ?? perCell;
    const cells = recallCells(p);
    const size = (c: Cell) => (c.probe === 'loss' ? 1 : c.probe === 'multikey' ? keyTrials : perCell);
    const total = cells.reduce((t, c) => t + size(c), 0) * subjects.size;
    let done = 0;
    const stops = new CapacityStops(emit);
    const kernels = { ...[...chosen.values()][0].kernels };

    /** One probe of one model: checked, stopped at capacity, emitted unless the run was cancelled meanwhile. */
    const probe = async <R extends ProbeOutcome>(
      slot: Arch, s: Subject, length: number, label: string, fn: () => Promise<R>, point: (r: R) => Omit<RecallPoint, 'kernels'>,
    ): Promise<void> => {
      checkAbort(signal);
      if (!stops.runs(slot, s.model, length)) return;
      emit({ type: 'progress', done: done++, total, label });
      const r = await stops.attempt(slot, s.model, length, label, fn);
      checkAbort(signal); // a probe cut short by cancel is no result
      if (r.ok) emit({ type: 'recall-point', point: { ...point(r.value), kernels } });
    };

    for (const cell of cells) {
      const { length } = cell;
      const running = [...subjects].filter(([slot, s]) => stops.runs(slot, s.model, length));
      if (!running.length) continue;
      if (p.maxMs !== undefined && now() - t0 >= p.maxMs) {
        for (const [slot] of running) {
          emit({
            type: 'limit', slot, length, lastOk: stops.largestFit(slot), reason: 'time',
            message: `stopped starting new cells after ${(p.maxMs / 1e3).toFixed(0)} s (the cells without numbers were not run)`,
          });
        }
        break;
      }
      if (cell.probe === 'loss') {
        for (const [slot, s] of running) {
          checkAbort(signal);
          if (!stops.runs(slot, s.model, length)) continue;
          emit({ type: 'progress', done: done++, total, label: `loss by position, ${slot}, L=${length}` });
          const r = await stops.attempt(slot, s.model, length, `loss at L=${length}`, () => lossCurve(slot, s.model, s.tok, s.docIds, length, signal));
          checkAbort(signal);
          if (r.ok) emit({ type: 'loss-curve', curve: r.value });
        }
      } else if (cell.probe === 'multikey') {
        // K facts per probe; every probe of the cell is built first (the facts' token counts vary), a cell that does
        // not fit in the length is skipped
        const k = cell.keys;
        const built = new Map(running.map(([slot, s]) => [slot, multikeyCell(s.tok, s.docIds, length, k, p.seed, keyTrials)] as const));
        for (const [slot, c] of built) {
          if (c.skipped === null) continue;
          emit({ type: 'recall-skip', skip: { arch: slot, probe: 'multikey', length, keys: k, message: c.skipped } });
          done += keyTrials;
        }
        for (let trial = 0; trial < keyTrials; trial++) {
          for (const [slot, s] of running) {
            const q = built.get(slot)?.probes?.[trial];
            if (!q) continue;
            await probe(slot, s, length, `multikey, ${slot}, L=${length}, K=${k}`, () => runMultikeyProbe(s.model, s.tok, q, signal),
              (r) => ({ arch: slot, probe: 'multikey', length, trial, ...r }));
          }
        }
      } else {
        const kind = cell.probe;
        for (const depth of p.depths) {
          for (let trial = 0; trial < p.trials; trial++) {
            for (const [slot, s] of running) {
              const seed = probeSeed(p.seed, length, depth, trial);
              await probe(slot, s, length, `${kind}, ${slot}, L=${length}, depth ${Math.round(depth * 100)}%`,
                () => kind === 'passkey'
                  ? runPasskeyProbe(s.model, s.tok, s.docIds, length, depth, seed, signal)
                  : runCopyProbe(s.model, s.tok, s.docIds, length, depth, signal),
                (r) => ({ arch: slot, probe: kind, length, depth, trial, ...r }));
            }
          }
        }
      }
    }
    emit({ type: 'progress', done: total, total, label: 'done' });
  });
}
