/**
 * Compare's generation loop. Each model prefills its prompt, samples its first token, then decodes in batches of k
 * tokens with model.decodeBatch(): k steps recorded into one submit, each next token sampled on the GPU and written
 * straight into the token history, and one readback of the k ids per batch. No logits come back to the CPU.
 *
 * - 'interleaved' (side by side): after both prefills, one batch of each model in turn, so both outputs grow together
 *   as the batches land;
 * - 'sequential' (one then the other): the same loop with one model at a time.
 *
 * Every call is awaited on its own and timed on its own, so a model's decode tok/s counts only its own batches, in
 * either mode: side by side costs a model nothing but the streaming order.
 */
import type { GenerateStats, SamplingOptions } from '../models/types';

const now = () => (globalThis.performance ?? Date).now();

/** What the loop needs from a model: CausalLM (src/models/base.ts) provides it. */
export interface BatchDecoder {
  readonly name: string;
  readonly maxContext: number;
  /** Decode steps per submit the model prefers (k); the loop uses it unless told otherwise. */
  stepsPerSubmit?: number;
  reset(): void;
  /** With onProgress: each chunk awaited and reported; signal checked between chunks (an abort throws). */
  prefill(ids: number[], opts?: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal }): Promise<Float32Array>;
  /** Decodes n tokens, sampling on the GPU, in one submit and one readback; first ≥ 0 is fed first, −1 continues
   *  from the token the previous batch sampled last. */
  decodeBatch(first: number, n: number, sampling: SamplingOptions): Promise<Uint32Array>;
}

export interface GenStream<K extends string = string> {
  key: K;
  model: BatchDecoder;
  prompt: number[];
  /** Tokens to generate at most (already capped by the model's context). */
  maxNew: number;
  /** True when maxNew was cut by the context limit (the stop reason is then 'context', not 'length'). */
  cutByContext?: boolean;
  stopIds: readonly number[];
}

export interface GenHooks<K extends string = string> {
  /** Before a model starts (prefill). */
  onStart?(key: K): void;
  /** Prefill progress: prompt tokens done of the prompt's total, ms since the model started (after each chunk). */
  onPrefill?(key: K, done: number, total: number, ms: number): void;
  /** Tokens as a batch lands: ids in order, `index` of the first, each credited an equal share of the batch's time. */
  onTokens(key: K, ids: number[], index: number, msEach: number): void;
  /** After a model stopped, with its stats (and how its decode ran). */
  onDone?(key: K, stats: GenerateStats, trace: GenTrace): void;
  /** Wraps each model call, e.g. to attribute GPU readbacks to the model and phase that made them. */
  around?<T>(key: K, phase: GenPhase, fn: () => Promise<T>): Promise<T>;
}

/** prefill: the prompt before its last token; first: the last prompt token and the first sample; decode: the rest. */
export type GenPhase = 'prefill' | 'first' | 'decode';

export interface GenTrace {
  /** Tokens per decode batch (k). */
  batch: number;
  /** Decode batches after the first token. */
  batches: number;
}

export interface GenOptions {
  mode: 'interleaved' | 'sequential';
  sampling: SamplingOptions;
  /** Tokens per batch; default: each model's stepsPerSubmit (8 when it has none). */
  batch?: number;
  signal?: AbortSignal;
}

interface Run<K extends string> {
  s: GenStream<K>;
  out: number[];
  k: number;
  batches: number;
  t0: number;
  ttftMs: number;
  decodeMs: number;
  stop: GenerateStats['stopReason'] | null;
  started: boolean;
}

/**
 * The sampler's random stream is keyed by (seed, step), and CausalLM counts steps from its generate() only. Restart
 * the count so that a seed gives the same tokens here as in model.generate() and from one run to the next.
 * (The lead is asked to make reset() do this; until then the counter is reached by name, and tests/engine/generation.test.ts checks it.)
 */
function restartSampling(model: BatchDecoder): void {
  const m = model as unknown as { sampleStep?: unknown };
  if (typeof m.sampleStep === 'number') m.sampleStep = 0;
}

export async function generateStreams<K extends string>(streams: GenStream<K>[], opts: GenOptions, hooks: GenHooks<K>): Promise<Map<K, GenerateStats>> {
  for (const s of streams) {
    if (s.prompt.length === 0) throw new RangeError('The prompt is empty');
    if (typeof s.model.decodeBatch !== 'function') throw new TypeError(`${s.model.name} cannot decode in batches`);
  }
  const around = <T>(key: K, phase: GenPhase, fn: () => Promise<T>) => (hooks.around ? hooks.around(key, phase, fn) : fn());
  const aborted = () => opts.signal?.aborted === true;
  const runs: Run<K>[] = streams.map((s) => ({
    s, out: [], k: Math.max(1, Math.floor(opts.batch ?? s.model.stepsPerSubmit ?? 8)), batches: 0, t0: 0, ttftMs: 0, decodeMs: 0, stop: null, started: false,
  }));
  const results = new Map<K, GenerateStats>();

  /** Keeps the ids a call returned up to a stop id or maxNew (a batch may run past them) and passes them on. */
  const take = (r: Run<K>, got: Uint32Array, ms: number): void => {
    const ids: number[] = [];
    for (const id of got) {
      ids.push(id);
      if (r.s.stopIds.includes(id)) { r.stop = 'eos'; break; }
      if (r.out.length + ids.length >= r.s.maxNew) { r.stop = r.s.cutByContext ? 'context' : 'length'; break; }
    }
    const index = r.out.length;
    r.out.push(...ids);
    hooks.onTokens(r.s.key, ids, index, ms / got.length);
  };

  const start = async (r: Run<K>): Promise<void> => {
    const { model, prompt, key } = r.s;
    r.started = true;
    hooks.onStart?.(key);
    if (r.s.maxNew <= 0) { r.stop = r.s.cutByContext ? 'context' : 'length'; return; }
    model.reset();
    restartSampling(model);
    r.t0 = now();
    // Prefill all but the last prompt token; the last one goes in with the first sample (as model.generate() does).
    // A cancel between prefill chunks stops the model there (no tokens).
    if (prompt.length > 1) {
      const onProgress = hooks.onPrefill ? (done: number) => hooks.onPrefill!(key, done, prompt.length, now() - r.t0) : undefined;
      try {
        await around(key, 'prefill', () => model.prefill(prompt.slice(0, -1), { onProgress, signal: opts.signal }));
      } catch (e) {
        if (aborted()) { r.stop = 'aborted'; return; }
        throw e;
      }
      if (aborted()) { r.stop = 'aborted'; return; } // cancelled during the last pass: no token
    }
    const got = await around(key, 'first', () => model.decodeBatch(prompt[prompt.length - 1], 1, opts.sampling));
    r.ttftMs = now() - r.t0;
    take(r, got, r.ttftMs);
  };

  const step = async (r: Run<K>): Promise<void> => {
    const pos = r.s.prompt.length - 1 + r.out.length; // tokens consumed so far: the last sample is fed next
    const room = r.s.model.maxContext - pos - 1;
    const n = Math.min(r.k, r.s.maxNew - r.out.length, room);
    if (n <= 0) { r.stop = 'context'; return; }
    const t = now();
    const got = await around(r.s.key, 'decode', () => r.s.model.decodeBatch(-1, n, opts.sampling));
    const ms = now() - t;
    r.decodeMs += ms;
    r.batches++;
    take(r, got, ms);
  };

  const finish = (r: Run<K>): void => {
    if (r.stop === null) r.stop = 'aborted';
    const n = r.out.length, P = r.s.prompt.length;
    const stats: GenerateStats = {
      promptTokens: P,
      newTokens: n,
      prefillMs: r.ttftMs,
      decodeMs: r.decodeMs,
      prefillTokPerS: r.ttftMs > 0 ? P / (r.ttftMs / 1e3) : 0,
      decodeTokPerS: n > 1 && r.decodeMs > 0 ? (n - 1) / (r.decodeMs / 1e3) : 0,
      ttftMs: r.ttftMs,
      stopReason: r.stop,
    };
    results.set(r.s.key, stats);
    hooks.onDone?.(r.s.key, stats, { batch: r.k, batches: r.batches });
  };

  const decodeAll = async (group: Run<K>[]): Promise<void> => {
    for (const r of group) {
      if (aborted()) break;
      await start(r);
    }
    while (!aborted() && group.some((r) => r.stop === null)) {
      for (const r of group) if (r.stop === null && !aborted()) await step(r);
    }
  };

  if (opts.mode === 'sequential') {
    for (const r of runs) {
      if (aborted()) break;
      await decodeAll([r]);
      if (r.started) finish(r);
    }
  } else {
    await decodeAll(runs);
    for (const r of runs) if (r.started) finish(r);
  }
  return results;
}
