/**
 * Compare (and `npm run generate`): one prompt, one or both models generating with GPU sampling in batches
 * (./generation), the text streamed as each batch lands, then each model's stats, memory and decode trace.
 */
import type { KernelChoice } from '../models/kernel-choice';
import type { Arch } from '../models/types';
import type { Emit, Models, RunEnd, TokenizedModel } from './events';
import { generateStreams, type GenPhase, type GenStream } from './generation';
import { ReadbackCounter } from './readbacks';
import { runModels, settle } from './run';
import { calibrationOf } from '../roofline/calibrate';
import type { GenerateStats } from '../models/types';
import { measuredRooflines, meterable, PhaseMeter } from '../roofline/meter';

export interface GenerateParams {
  prompt: string;
  slots: Arch[];
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  /**
   * 'interleaved' (side by side): both models prefill, then decode in turn, one batch of k tokens each (GPU sampling,
   * one readback per batch), so both outputs stream together. 'sequential': the same, one model after the other.
   * Every batch is timed on its own: a model's decode tok/s is the same in both modes.
   */
  mode: 'interleaved' | 'sequential';
  /** Tokens per decode batch (one submit, one readback); 0 or absent: each model's own choice. */
  batch?: number;
  kernels: KernelChoice;
  /** Tokenize the prompt with the tokenizer's special tokens (BOS…), as the page does; default true. */
  addSpecialTokens?: boolean;
}

/** The model's end-of-sequence id: its tokenizer's, else its config's, else none. */
export function eosOf(m: TokenizedModel): number | null {
  return m.tokenizer.eosId ?? m.config?.eosTokenId ?? null;
}

interface Output {
  decoder: ReturnType<TokenizedModel['tokenizer']['streamDecoder']>;
  eos: number | null;
  model: TokenizedModel;
  promptTokens: number;
}

export async function runGenerate(models: Models, p: GenerateParams, emit: Emit, signal: AbortSignal): Promise<RunEnd> {
  return settle(signal, async () => {
    const chosen = runModels(models, p.slots, p.kernels);
    const outputs = new Map<Arch, Output>();
    const streams: GenStream<Arch>[] = [...chosen].map(([slot, model]) => {
      const prompt = model.tokenizer.encode(p.prompt, { addSpecialTokens: p.addSpecialTokens ?? true });
      if (prompt.length === 0) throw new RangeError('The prompt is empty');
      if (prompt.length >= model.maxContext) {
        throw new RangeError(`The prompt is ${prompt.length} tokens; ${model.name} takes at most ${model.maxContext - 1} before generating`);
      }
      const decoder = model.tokenizer.streamDecoder();
      decoder.prime(prompt);
      const eos = eosOf(model);
      outputs.set(slot, { decoder, eos, model, promptTokens: prompt.length });
      const room = model.maxContext - prompt.length;
      return {
        key: slot, model, prompt, maxNew: Math.min(p.maxNewTokens, room), cutByContext: room < p.maxNewTokens,
        stopIds: eos === null ? [] : [eos],
      };
    });
    // GPU → CPU readbacks per model and phase, when a counter watches the device (the worker installs one)
    const counters = new Map([...chosen].map(([slot, m]) => [slot, ReadbackCounter.of(m.ctx.device)] as const));
    const label = (slot: Arch, phase: GenPhase) => `generate:${slot}:${phase}`;
    const before = new Map([...counters].map(([slot, c]) => [slot, c?.snapshot() ?? {}] as const));
    const since = (slot: Arch, phase: GenPhase) => counters.get(slot)!.count(label(slot, phase)) - (before.get(slot)![label(slot, phase)] ?? 0);
    // what bounds each model's prefill and decode: counted (and timed, with timestamps) while it generates
    const meters = new Map([...chosen].map(([slot, m]) => [slot, meterable(m) ? new PhaseMeter(m, calibrationOf(m.ctx)) : null] as const));
    for (const m of meters.values()) m?.start();
    const done = new Map<Arch, GenerateStats>();
    await generateStreams(
      streams,
      { mode: p.mode, sampling: { temperature: p.temperature, topK: p.topK, topP: p.topP, seed: p.seed }, batch: p.batch || undefined, signal },
      {
        onStart: (slot) => emit({ type: 'gen-start', slot, promptTokens: outputs.get(slot)!.promptTokens }),
        onPrefill: (slot, done, total, ms) => emit({ type: 'gen-prefill', slot, done, total, ms }),
        onTokens: (slot, ids, index, ms) => {
          const o = outputs.get(slot)!;
          // One event per batch: the text grows as the batch lands.
          const text = ids.map((t) => (t === o.eos ? '' : o.decoder.push(t))).join('');
          emit({ type: 'gen-tokens', slot, ids, index, text, msEach: ms });
        },
        onDone: (slot, stats, trace) => {
          const o = outputs.get(slot)!;
          const tail = o.decoder.flush();
          if (tail) emit({ type: 'gen-tokens', slot, ids: [], index: stats.newTokens, text: tail, msEach: 0 });
          const readbacks = counters.get(slot) ? { prefill: since(slot, 'prefill'), first: since(slot, 'first'), decode: since(slot, 'decode') } : null;
          done.set(slot, stats);
          emit({ type: 'gen-stats', slot, stats, memory: o.model.memory(), text: o.decoder.text, trace: { ...trace, readbacks }, kernels: { ...o.model.kernels } });
        },
        around: (slot, phase, fn) => {
          const c = counters.get(slot);
          return c ? c.during(label(slot, phase), fn) : fn();
        },
      },
    ).finally(async () => {
      for (const [slot, meter] of meters) {
        if (!meter) continue;
        try {
          const observed = await meter.stop();
          const st = done.get(slot);
          const model = chosen.get(slot)!;
          if (!st || !meterable(model)) continue;
          const roofline = measuredRooflines(model, observed, {
            prefillMs: st.prefillMs, decodeMsPerToken: st.decodeTokPerS > 0 ? 1e3 / st.decodeTokPerS : null, decodeContext: st.promptTokens + st.newTokens / 2,
          }, calibrationOf(model.ctx));
          if (roofline) emit({ type: 'gen-roofline', slot, roofline });
        } catch {
          // the roofline is an extra: a failed read (device lost) leaves the run's own result or error as it is
        } finally {
          meter.destroy();
        }
      }
    });
  });
}
