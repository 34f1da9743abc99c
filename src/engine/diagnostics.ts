/**
 * The selectivity view: for one passkey probe, what each model does per token (Mamba: its step size Δ per layer;
 * the Transformer: the attention from the last position to every token per layer), with the probe's text and where
 * the needle and the question sit.
 */
import type { KernelChoice } from '../models/kernel-choice';
import type { Arch } from '../models/types';
import { buildPasskey } from '../recall/passkey';
import { mulberry32 } from '../recall/rng';
import { checkAbort } from './errors';
import type { Emit, Models, RunEnd } from './events';
import { probeTokenizer, runModels, settle } from './run';

export interface DiagnosticsParams {
  slots: Arch[];
  document: string;
  length: number;
  depth: number;
  seed: number;
  kernels: KernelChoice;
}

export async function runDiagnostics(models: Models, p: DiagnosticsParams, emit: Emit, signal: AbortSignal): Promise<RunEnd> {
  return settle(signal, async () => {
    for (const [slot, model] of runModels(models, p.slots, p.kernels)) {
      checkAbort(signal);
      const tok = probeTokenizer(model);
      const q = buildPasskey(tok, tok.encode(p.document), p.length, p.depth, mulberry32(p.seed));
      const d = await model.ctx.checked('diagnostics', () => model.diagnostics(q.ids));
      checkAbort(signal);
      emit({
        type: 'selectivity',
        result: {
          slot, kind: d.kind, layers: d.layers.map((l) => Array.from(l)), tokens: q.ids.map((t) => tok.decode([t])),
          needle: [q.needleStart, q.needleEnd], questionStart: q.questionStart, key: q.key, kernels: { ...model.kernels },
        },
      });
    }
  });
}
