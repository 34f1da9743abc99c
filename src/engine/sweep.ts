/**
 * The context-length sweep (Scaling tab, Claims): at each length, each model prefills the same random tokens (the
 * fastest of `repeats`), then decodes with GPU sampling; one point per (model, length) with times and memory. A model
 * stops at the first length that does not fit (./capacity); the other goes on.
 */
import type { KernelChoice } from '../models/kernel-choice';
import type { Arch, LanguageModel } from '../models/types';
import { mulberry32 } from '../recall/rng';
import type { SweepPoint } from '../recall/types';
import { CapacityStops } from './capacity';
import { calibrationOf } from '../roofline/calibrate';
import { measuredRooflines, metered, meterable, type Observed } from '../roofline/meter';
import { checkAbort } from './errors';
import type { Emit, Models, RunEnd } from './events';
import { ARCH_NAME, runModels, settle } from './run';

const now = () => (globalThis.performance ?? Date).now();
const GREEDY = { temperature: 0, topK: 0, topP: 1, seed: 0 };

export interface SweepParams {
  slots: Arch[];
  /** Context lengths in tokens, ascending. */
  lengths: number[];
  /** Decode steps measured after each prefill (0 = prefill only). */
  decodeTokens: number;
  /** Prefill repeats per point (the fastest is kept). */
  repeats: number;
  seed: number;
  kernels: KernelChoice;
}

/** n random token ids from `seed`, the same for every model (ids below the smaller vocabulary). */
export function randomIds(n: number, vocab: number, seed: number): number[] {
  const rng = mulberry32(seed);
  // Skip the first few ids (often special tokens).
  const lo = Math.min(16, vocab - 1);
  return Array.from({ length: n }, () => lo + Math.floor(rng() * (vocab - lo)));
}

export async function runSweep(models: Models<LanguageModel>, p: SweepParams, emit: Emit, signal: AbortSignal): Promise<RunEnd> {
  return settle(signal, async () => {
    const chosen = runModels(models, p.slots, p.kernels);
    const vocab = Math.min(...[...chosen.values()].map((m) => m.vocabSize));
    const stops = new CapacityStops(emit);
    const total = p.lengths.length * chosen.size;
    let done = 0;
    for (const model of chosen.values()) {
      checkAbort(signal);
      await warmUp(model, vocab, p.decodeTokens > 0, signal);
    }
    for (const length of p.lengths) {
      const ids = randomIds(length, vocab, p.seed + length);
      for (const [slot, model] of chosen) {
        checkAbort(signal);
        if (!stops.runs(slot, model, length)) continue;
        emit({ type: 'progress', done, total, label: `${ARCH_NAME[slot]} at L=${length}` });
        const r = await stops.attempt(slot, model, length, `${slot} at L=${length}`, () => measure(slot, model, ids, p, signal));
        checkAbort(signal);
        if (r.ok) emit({ type: 'sweep-point', point: r.value });
        done++;
      }
      if (!stops.anyRuns(chosen.keys())) break;
    }
    emit({ type: 'progress', done: total, total, label: 'done' });
  });
}

/** Compiles the pipelines the sweep uses (prefill, and one decode token, which runs every decode pipeline), so that
 *  the first measured point is not shader compilation. */
async function warmUp(model: LanguageModel, vocab: number, decode: boolean, signal: AbortSignal): Promise<void> {
  const ids = randomIds(8, vocab, 1);
  if (decode) await model.generate(ids, { ...GREEDY, maxNewTokens: 1, signal });
  else {
    model.reset();
    await model.prefill(ids);
  }
}

async function measure(slot: Arch, model: LanguageModel, ids: number[], p: SweepParams, signal: AbortSignal): Promise<SweepPoint> {
  let prefillMs = Infinity;
  let decodeTokPerS: number | null = null;
  // what each phase ran in its fastest repeat (counts and GPU time, for the roofline)
  const cal = calibrationOf(model.ctx);
  const best: Partial<Observed> = {};
  for (let r = 0; r < Math.max(1, p.repeats); r++) {
    checkAbort(signal);
    if (p.decodeTokens > 0) {
      // The model's own generate(): prefill, first token (time to first token), then batched GPU-sampled decode.
      const { value: g, observed } = await metered(model, cal, () => model.generate(ids, { ...GREEDY, maxNewTokens: p.decodeTokens + 1, signal }));
      checkAbort(signal);
      if (observed && g.stats.prefillMs < prefillMs) best.prefill = observed.prefill;
      if (observed && g.stats.decodeTokPerS > (decodeTokPerS ?? 0)) best.decode = observed.decode;
      prefillMs = Math.min(prefillMs, g.stats.prefillMs);
      // a repeat whose decode took no measurable time (generate() reports 0) leaves the figure unmeasured (null)
      if (g.stats.decodeTokPerS > 0) decodeTokPerS = Math.max(decodeTokPerS ?? 0, g.stats.decodeTokPerS);
    } else {
      model.reset();
      const t = now();
      const { observed } = await metered(model, cal, () => model.prefill(ids));
      const ms = now() - t;
      if (observed && ms < prefillMs) best.prefill = observed.prefill;
      prefillMs = Math.min(prefillMs, ms);
    }
  }
  const none = { tokens: 0, passes: 0, dispatches: 0, gpuMs: null };
  const roofline = meterable(model) && best.prefill
    ? measuredRooflines(model, { prefill: best.prefill, decode: best.decode ?? none }, {
      prefillMs, decodeMsPerToken: decodeTokPerS ? 1e3 / decodeTokPerS : null, decodeContext: ids.length + p.decodeTokens / 2,
    }, cal)
    : null;
  // What this length needed (the widest prefill pass included, though a long pass's buffers are released after it),
  // not what earlier runs left allocated: the same on a fresh page and after any history.
  const memory = model.memory();
  return {
    arch: slot,
    length: ids.length,
    prefillMs,
    prefillTokPerS: ids.length / (prefillMs / 1e3),
    decodeMsPerToken: decodeTokPerS ? 1e3 / decodeTokPerS : null,
    decodeTokPerS,
    memory,
    stateBytes: model.arch === 'transformer' ? memory.kvCache : memory.ssmState,
    totalBytes: memory.weights + memory.kvCache + memory.ssmState + memory.activations + memory.scratch,
    prefillPass: model.lastPrefill?.passTokens ?? ids.length,
    kernels: { ...model.kernels },
    roofline,
  };
}
