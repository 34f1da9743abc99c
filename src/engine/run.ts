/** What every experiment does first and last: pick its models, give them the run's kernels, end on abort. */
import { GpuError } from '../gpu/errors';
import { parseKernelChoice, type KernelChoice } from '../models/kernel-choice';
import type { Arch, LanguageModel } from '../models/types';
import { isAbort } from './errors';
import type { TextTokenizer as ProbeTokenizer } from '../recall/types';
import type { Models, RunEnd, TokenizedModel } from './events';

export const ARCH_NAME: Record<Arch, string> = { mamba: 'Mamba', mamba2: 'Mamba-2', transformer: 'Transformer' };

/**
 * The models of `slots`, in that order, each set to run with `kernels` for the whole run (the choice is checked
 * first: an unknown variant fails the run before anything ran). Nothing else changes a model's kernels, so a setting
 * changed while the run goes on applies to the next run only.
 */
export function runModels<M extends LanguageModel>(models: Models<M>, slots: readonly Arch[], kernels: KernelChoice): Map<Arch, M> {
  const choice = parseKernelChoice(kernels);
  if (slots.length === 0) throw new RangeError('No model chosen for this run');
  const out = new Map<Arch, M>();
  for (const slot of slots) {
    const m = models[slot];
    if (!m) throw new GpuError('validation', `No ${ARCH_NAME[slot]} model is loaded`);
    out.set(slot, m);
  }
  for (const m of out.values()) m.kernels = { ...choice };
  return out;
}

/** Runs an experiment's body: resolves { cancelled: true } when it stopped on its signal, rethrows anything else. */
export async function settle(signal: AbortSignal, body: () => Promise<void>): Promise<RunEnd> {
  try {
    await body();
  } catch (e) {
    if (isAbort(e) && signal.aborted) return { cancelled: true };
    throw e;
  }
  return { cancelled: signal.aborted };
}

/** The model's tokenizer as the recall probes want it: no special tokens added inside documents. */
export function probeTokenizer(m: TokenizedModel): ProbeTokenizer {
  return { encode: (s) => m.tokenizer.encode(s, { addSpecialTokens: false }), decode: (ids) => m.tokenizer.decode(ids) };
}

/** The slot a model runs in: one per architecture (Mamba, Mamba-2, the Transformer). */
export function slotOf(m: LanguageModel): Arch {
  return m.arch;
}
