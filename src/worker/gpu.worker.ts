/// <reference lib="webworker" />
/**
 * The GPU worker: owns the WebGPU device, the loaded models and all GPU work; the UI talks to it only through
 * ./protocol messages. GPU jobs run one at a time (a promise chain); each has an AbortController that `cancel`
 * trips. Results stream back as they are measured, so the UI can chart them live.
 */
import { acquireDevice } from '../gpu/device';
import { GpuContext } from '../gpu/context';
import { GpuError } from '../gpu/errors';
import { CopyKernel } from '../kernels/copy';
import { loadModel, type LoadedModel } from '../models/load';
import { sourceLabel, type ModelSource } from '../hub/hub';
import type { TextTokenizer } from '../hub/tokenizer';
import type { Arch, KernelChoice, ModelArch, ModelMemory } from '../models/types';
import { buildPasskey } from '../recall/passkey';
import { multikeyCell, probeSeed, runCopyProbe, runMultikeyProbe, runPasskeyProbe } from '../recall/run';
import { tileTokens } from '../recall/haystack';
import { mean, tokenNll } from '../recall/loss';
import { mulberry32 } from '../recall/rng';
import type { TextTokenizer as ProbeTokenizer, SweepPoint } from '../recall/types';
import { generateStreams, type BatchDecoder, type GenPhase, type GenStream } from './generation';
import { ReadbackCounter } from './readbacks';
import type {
  DiagnosticsParams, GenerateParams, LoadProgress, ModelInfo, RecallParams, SweepParams, WorkerEvent, WorkerRequest,
} from './protocol';

declare const self: DedicatedWorkerGlobalScope;

type Loaded = LoadedModel;

const now = () => performance.now();
const models: Partial<Record<Arch, { model: Loaded; info: ModelInfo }>> = {};
/** Models loaded beside the live ones (a pair switch), swapped in by `commit`. */
const staged: Partial<Record<Arch, { model: Loaded; info: ModelInfo }>> = {};
const aborts = new Map<number, AbortController>();
let kernels: KernelChoice = { scan: 'fused', attention: 'flash' };
let ctxPromise: Promise<GpuContext> | null = null;
let queue: Promise<void> = Promise.resolve();

class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

function post(e: WorkerEvent): void {
  self.postMessage(e);
}

function context(): Promise<GpuContext> {
  ctxPromise ??= acquireDevice(navigator.gpu).then((a) => {
    const counter = new ReadbackCounter(a.device); // before anything creates a buffer on the device
    const ctx = new GpuContext(a);
    counters.set(ctx, counter);
    const mine = ctxPromise;
    a.lost.then((err) => {
      if (ctxPromise !== mine) return; // an old device we replaced on purpose
      ctxPromise = null;
      for (const slot of Object.keys(models) as Arch[]) delete models[slot];
      for (const slot of Object.keys(staged) as Arch[]) delete staged[slot];
      post({ id: 0, type: 'device-lost', message: err.message });
    });
    return ctx;
  });
  ctxPromise.catch(() => (ctxPromise = null));
  return ctxPromise;
}

/** GPU → CPU readbacks on the context's device, by the work that made them (see ./readbacks). */
const counters = new WeakMap<GpuContext, ReadbackCounter>();
function readbacks(ctx: GpuContext): ReadbackCounter {
  return counters.get(ctx)!;
}

function checkAbort(signal: AbortSignal): void {
  if (signal.aborted) throw new Cancelled();
}

function isAbort(e: unknown): boolean {
  return e instanceof Cancelled || (!!e && typeof e === 'object' && (e as { name?: string }).name === 'AbortError');
}

function errorCode(e: unknown): string {
  if (e instanceof GpuError) return e.code;
  if (e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string') return (e as { code: string }).code;
  if (e instanceof RangeError) return 'range';
  if (e instanceof Error && e.name === 'ConfigError') return 'config';
  return 'internal';
}

function httpStatus(e: unknown): number | undefined {
  const st = e && typeof e === 'object' ? (e as { status?: unknown }).status : undefined;
  return typeof st === 'number' ? st : undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Errors that mean "this length does not fit": stop the model's sweep there instead of failing the run. */
function isCapacityError(e: unknown): boolean {
  const c = errorCode(e);
  return c === 'out-of-memory' || c === 'limit-exceeded' || c === 'range';
}

function need(slot: Arch): { model: Loaded; info: ModelInfo } {
  const m = models[slot];
  if (!m) throw new GpuError('validation', `No ${slot === 'mamba' ? 'Mamba' : 'Transformer'} model is loaded`);
  return m;
}

/** The model's tokenizer as the recall probes want it: no special tokens added inside documents. */
function probeTokenizer(t: TextTokenizer): ProbeTokenizer {
  return { encode: (s) => t.encode(s, { addSpecialTokens: false }), decode: (ids) => t.decode(ids) };
}

function eosOf(m: Loaded): number | null {
  return m.tokenizer.eosId ?? (m as { config?: { eosTokenId?: number | null } }).config?.eosTokenId ?? null;
}

function stateBytes(arch: ModelArch, mem: ModelMemory): number {
  return arch === 'transformer' ? mem.kvCache : mem.ssmState;
}

function totalBytes(mem: ModelMemory): number {
  return mem.weights + mem.kvCache + mem.ssmState + mem.activations + mem.scratch;
}

/** Runs a GPU job after the ones before it; reports cancellation and errors as the request's final event. */
function enqueue(id: number, job: (signal: AbortSignal) => Promise<void>): void {
  const ac = new AbortController();
  aborts.set(id, ac);
  queue = queue
    .then(() => (ac.signal.aborted ? Promise.reject(new Cancelled()) : job(ac.signal)))
    .catch((e: unknown) => {
      if (isAbort(e)) post({ id, type: 'done', cancelled: true });
      else post({ id, type: 'error', code: errorCode(e), message: message(e), status: httpStatus(e) });
    })
    .finally(() => aborts.delete(id));
}

// ---------------------------------------------------------------------------------------------------------------
// load

async function load(id: number, slot: Arch, source: ModelSource, signal: AbortSignal, stage = false): Promise<void> {
  const ctx = await context();
  const into = stage ? staged : models;
  const old = into[slot];
  if (old) {
    delete into[slot];
    old.model.dispose();
  }
  const files = new Map<string, { loaded: number; total: number | null; fromCache: boolean }>();
  let lastPost = 0;
  const t0 = now();
  const onProgress = (p: unknown) => {
    const q = (p ?? {}) as { file?: string; phase?: string; loaded?: number; total?: number | null; fromCache?: boolean; done?: boolean };
    const file = q.file ?? q.phase ?? 'model';
    files.set(file, { loaded: q.loaded ?? 0, total: q.total ?? null, fromCache: q.fromCache ?? false });
    const t = now();
    if (t - lastPost < 100 && !q.done) return;
    lastPost = t;
    let loaded = 0;
    let total: number | null = 0;
    let fromCache = true;
    for (const f of files.values()) {
      loaded += f.loaded;
      total = total === null || f.total === null ? null : total + f.total;
      fromCache &&= f.fromCache;
    }
    const progress: LoadProgress = { slot, file, loaded, total, fromCache };
    post({ id, type: 'load-progress', progress });
  };
  const model = (await loadModel(ctx, source, { signal, onProgress })) as Loaded;
  if (signal.aborted) {
    model.dispose();
    throw new Cancelled();
  }
  if (model.arch !== slot) {
    model.dispose();
    throw new GpuError('validation', `${sourceLabel(source)} is a ${model.arch} model, not a ${slot} model`);
  }
  model.kernels = { ...kernels };
  const info: ModelInfo = {
    arch: model.arch,
    name: model.name,
    source: sourceLabel(source),
    vocabSize: model.vocabSize,
    maxContext: model.maxContext,
    kernels: { ...model.kernels },
    memory: model.memory(),
    trainedContext: model.config.arch === 'gpt-neox' ? model.config.maxPositionEmbeddings : null,
    eosId: eosOf(model),
    loadMs: now() - t0,
    fromCache: files.size > 0 && [...files.values()].every((f) => f.fromCache),
  };
  into[slot] = { model, info };
  post({ id, type: 'loaded', info });
}

// ---------------------------------------------------------------------------------------------------------------
// generate

interface Output {
  decoder: ReturnType<TextTokenizer['streamDecoder']>;
  eos: number | null;
  model: Loaded;
  promptTokens: number;
}

/** Compare: both models (or one) generate with GPU sampling in batches (./generation), streaming as batches land. */
async function generate(id: number, p: GenerateParams, signal: AbortSignal): Promise<void> {
  const ctx = await context();
  const outputs = new Map<Arch, Output>();
  const streams: GenStream<Arch>[] = p.slots.map((slot) => {
    const { model } = need(slot);
    const prompt = model.tokenizer.encode(p.prompt);
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
      key: slot, model: model as unknown as BatchDecoder, prompt, maxNew: Math.min(p.maxNewTokens, room), cutByContext: room < p.maxNewTokens,
      stopIds: eos === null ? [] : [eos],
    };
  });
  const label = (slot: Arch, phase: GenPhase) => `generate:${slot}:${phase}`;
  const before = readbacks(ctx).snapshot();
  const since = (slot: Arch, phase: GenPhase) => readbacks(ctx).count(label(slot, phase)) - (before[label(slot, phase)] ?? 0);
  await generateStreams(
    streams,
    { mode: p.mode, sampling: { temperature: p.temperature, topK: p.topK, topP: p.topP, seed: p.seed }, batch: p.batch || undefined, signal },
    {
      onStart: (slot) => post({ id, type: 'gen-start', slot, promptTokens: outputs.get(slot)!.promptTokens }),
      onPrefill: (slot, done, total, ms) => post({ id, type: 'gen-prefill', slot, done, total, ms }),
      onTokens: (slot, ids, index, ms) => {
        const o = outputs.get(slot)!;
        // One message per batch: the UI appends the text as the batch lands.
        const text = ids.map((t) => (t === o.eos ? '' : o.decoder.push(t))).join('');
        post({ id, type: 'gen-tokens', slot, ids, index, text, msEach: ms });
      },
      onDone: (slot, stats, trace) => {
        const o = outputs.get(slot)!;
        const tail = o.decoder.flush();
        if (tail) post({ id, type: 'gen-tokens', slot, ids: [], index: stats.newTokens, text: tail, msEach: 0 });
        const rb = { prefill: since(slot, 'prefill'), first: since(slot, 'first'), decode: since(slot, 'decode') };
        post({ id, type: 'gen-stats', slot, stats, memory: o.model.memory(), text: o.decoder.text, trace: { ...trace, readbacks: rb } });
      },
      around: (slot, phase, fn) => readbacks(ctx).during(label(slot, phase), fn),
    },
  );
  post({ id, type: 'done', cancelled: signal.aborted });
}

// ---------------------------------------------------------------------------------------------------------------
// sweep

function randomIds(n: number, vocab: number, seed: number): number[] {
  const rng = mulberry32(seed);
  // Skip the first few ids (often special tokens); stay below the smaller vocabulary so both models see the same ids.
  const lo = Math.min(16, vocab - 1);
  return Array.from({ length: n }, () => lo + Math.floor(rng() * (vocab - lo)));
}

async function warmUp(model: Loaded, vocab: number, decode: boolean, signal: AbortSignal): Promise<void> {
  // Compiles the pipelines the sweep uses (prefill, and the decode step when it measures decode: one token runs every
  // decode pipeline) so that the first measured point is not shader compilation.
  const ids = randomIds(8, vocab, 1);
  if (decode) await model.generate(ids, { temperature: 0, topK: 0, topP: 1, seed: 0, maxNewTokens: 1, signal });
  else {
    model.reset();
    await model.prefill(ids);
  }
}

async function sweep(id: number, p: SweepParams, signal: AbortSignal): Promise<void> {
  const ctx = await context();
  const active = new Map(p.slots.map((slot) => [slot, need(slot).model] as const));
  const vocab = Math.min(...[...active.values()].map((m) => m.vocabSize));
  const lastOk = new Map<Arch, number | null>(p.slots.map((s) => [s, null]));
  const total = p.lengths.length * active.size;
  let done = 0;
  for (const model of active.values()) await warmUp(model, vocab, p.decodeTokens > 0, signal);
  for (const length of p.lengths) {
    const ids = randomIds(length, vocab, p.seed + length);
    for (const [slot, model] of [...active]) {
      checkAbort(signal);
      post({ id, type: 'progress', done, total, label: `${slot === 'mamba' ? 'Mamba' : 'Transformer'} at L=${length}` });
      if (length > model.maxContext) {
        post({ id, type: 'limit', slot, length, lastOk: lastOk.get(slot)!, reason: 'context', message: `${model.name} takes at most ${model.maxContext} tokens on this device` });
        active.delete(slot);
        continue;
      }
      try {
        const point = await ctx.checked(`${slot} at L=${length}`, () => measure(slot, model, ids, p, signal));
        lastOk.set(slot, length);
        post({ id, type: 'sweep-point', point });
      } catch (e) {
        if (isAbort(e) || !isCapacityError(e)) throw e;
        model.reset();
        ctx.pool.trim();
        const prev = lastOk.get(slot)!;
        post({
          id, type: 'limit', slot, length, lastOk: prev, reason: errorCode(e),
          message: `${model.name} stopped at L=${length} (${message(e)}); the largest length that fit was ${prev ?? 'none'}.`,
        });
        active.delete(slot);
      }
      done++;
    }
    if (active.size === 0) break;
  }
  post({ id, type: 'progress', done: total, total, label: 'done' });
  post({ id, type: 'done', cancelled: false });
}

async function measure(slot: Arch, model: Loaded, ids: number[], p: SweepParams, signal: AbortSignal): Promise<SweepPoint> {
  let prefillMs = Infinity;
  let decodeTokPerS: number | null = null;
  for (let r = 0; r < Math.max(1, p.repeats); r++) {
    checkAbort(signal);
    if (p.decodeTokens > 0) {
      // The model's own generate(): prefill, first token (time to first token), then batched GPU-sampled decode.
      const g = await model.generate(ids, { temperature: 0, topK: 0, topP: 1, seed: 0, maxNewTokens: p.decodeTokens + 1, signal });
      checkAbort(signal);
      prefillMs = Math.min(prefillMs, g.stats.prefillMs);
      decodeTokPerS = Math.max(decodeTokPerS ?? 0, g.stats.decodeTokPerS);
    } else {
      model.reset();
      const t = now();
      await model.prefill(ids);
      prefillMs = Math.min(prefillMs, now() - t);
    }
  }
  const memory = model.memory();
  return {
    arch: slot,
    length: ids.length,
    prefillMs,
    prefillTokPerS: ids.length / (prefillMs / 1e3),
    decodeMsPerToken: decodeTokPerS ? 1e3 / decodeTokPerS : null,
    decodeTokPerS,
    memory,
    stateBytes: stateBytes(model.arch, memory),
    totalBytes: totalBytes(memory),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// recall

async function recall(id: number, p: RecallParams, signal: AbortSignal): Promise<void> {
  const ctx = await context();
  const active = new Map(
    p.slots.map((slot) => {
      const { model } = need(slot);
      const tok = probeTokenizer(model.tokenizer);
      const docIds = tok.encode(p.document);
      if (docIds.length === 0) throw new RangeError('The document is empty');
      return [slot, { model, tok, docIds }] as const;
    }),
  );
  const lastOk = new Map<Arch, number | null>(p.slots.map((s) => [s, null]));
  const qa = p.probes.filter((x) => x === 'passkey' || x === 'copy');
  const keys = p.probes.includes('multikey') ? (p.keys ?? []) : [];
  if (p.probes.includes('multikey') && !keys.length) throw new RangeError('The multikey probe needs at least one K (number of facts)');
  const perCell = p.depths.length * p.trials;
  const perKeyCell = p.keyTrials ?? perCell;
  const perLength = (qa.length * perCell + keys.length * perKeyCell + (p.probes.includes('loss') ? 1 : 0)) * active.size;
  const total = perLength * p.lengths.length;
  let done = 0;
  const stop = (slot: Arch, length: number, e: unknown) => {
    const m = active.get(slot)!.model;
    m.reset();
    ctx.pool.trim();
    const prev = lastOk.get(slot)!;
    post({
      id, type: 'limit', slot, length, lastOk: prev, reason: errorCode(e),
      message: `${m.name} stopped at L=${length} (${message(e)}); the largest length that fit was ${prev ?? 'none'}.`,
    });
    active.delete(slot);
  };
  for (const length of p.lengths) {
    for (const [slot, { model }] of [...active]) {
      if (length > model.maxContext) stop(slot, length, new RangeError(`${model.name} takes at most ${model.maxContext} tokens`));
    }
    for (const probe of p.probes) {
      if (probe === 'loss') {
        for (const [slot, s] of [...active]) {
          checkAbort(signal);
          post({ id, type: 'progress', done: done++, total, label: `loss by position, ${slot}, L=${length}` });
          try {
            const losses = await ctx.checked(`loss at L=${length}`, () => lossCurve(s.model, tileTokens(s.docIds, length, s.tok.encode('\n\n')), signal));
            post({ id, type: 'loss-curve', curve: { arch: slot, length, losses, meanLoss: mean(losses) } });
            lastOk.set(slot, length);
          } catch (e) {
            if (isAbort(e) || !isCapacityError(e)) throw e;
            stop(slot, length, e);
          }
        }
        continue;
      }
      if (probe === 'multikey') {
        // K facts per probe, depths × trials probes per (length, K) cell; a cell that does not fit is skipped.
        for (const k of keys) {
          const cells = new Map([...active].map(([slot, s]) => [slot, multikeyCell(s.tok, s.docIds, length, k, p.seed, perKeyCell)] as const));
          for (const [slot, c] of cells) {
            if (c.skipped === null) continue;
            post({ id, type: 'recall-skip', skip: { arch: slot, probe: 'multikey', length, keys: k, message: c.skipped } });
            done += perKeyCell;
          }
          for (let trial = 0; trial < perKeyCell; trial++) {
            for (const [slot, s] of [...active]) {
              const q = cells.get(slot)?.probes?.[trial];
              if (!q) continue;
              checkAbort(signal);
              post({ id, type: 'progress', done: done++, total, label: `multikey, ${slot}, L=${length}, K=${k}` });
              try {
                const r = await ctx.checked(probe, () => runMultikeyProbe(s.model, s.tok, q, signal));
                post({ id, type: 'recall-point', point: { arch: slot, probe, length, trial, ...r } });
                checkAbort(signal);
                lastOk.set(slot, length);
              } catch (e) {
                if (isAbort(e) || !isCapacityError(e)) throw e;
                stop(slot, length, e);
              }
            }
          }
        }
        continue;
      }
      for (const depth of p.depths) {
        for (let trial = 0; trial < p.trials; trial++) {
          for (const [slot, s] of [...active]) {
            checkAbort(signal);
            post({ id, type: 'progress', done: done++, total, label: `${probe}, ${slot}, L=${length}, depth ${Math.round(depth * 100)}%` });
            const seed = probeSeed(p.seed, length, depth, trial);
            try {
              const r = await ctx.checked(probe, () => probe === 'passkey'
                ? runPasskeyProbe(s.model, s.tok, s.docIds, length, depth, seed, signal)
                : runCopyProbe(s.model, s.tok, s.docIds, length, depth, signal));
              post({ id, type: 'recall-point', point: { arch: slot, probe, length, depth, trial, ...r } });
              checkAbort(signal);
              lastOk.set(slot, length);
            } catch (e) {
              if (isAbort(e) || !isCapacityError(e)) throw e;
              stop(slot, length, e);
            }
          }
        }
      }
    }
    if (active.size === 0) break;
  }
  post({ id, type: 'progress', done: total, total, label: 'done' });
  post({ id, type: 'done', cancelled: false });
}

/** Per-token loss over `ids`, prefilled in chunks small enough that one chunk's logits stay near 32 MB. */
async function lossCurve(model: Loaded, ids: number[], signal: AbortSignal): Promise<number[]> {
  const V = model.vocabSize;
  const chunk = Math.max(1, Math.min(1024, Math.floor((32 << 20) / (V * 4))));
  model.reset();
  const out: number[] = [];
  for (let start = 0; start < ids.length; start += chunk) {
    checkAbort(signal);
    const n = Math.min(chunk, ids.length - start);
    const logits = await model.prefill(ids.slice(start, start + n), { allLogits: true });
    const nll = tokenNll(logits, V, n, ids.slice(start + 1, start + n + 1));
    for (let r = 0; r < n; r++) if (start + r + 1 < ids.length) out.push(nll[r]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// diagnostics (selectivity view)

async function diagnostics(id: number, p: DiagnosticsParams, signal: AbortSignal): Promise<void> {
  const ctx = await context();
  for (const slot of p.slots) {
    checkAbort(signal);
    const { model } = need(slot);
    const tok = probeTokenizer(model.tokenizer);
    const q = buildPasskey(tok, tok.encode(p.document), p.length, p.depth, mulberry32(p.seed));
    const base = { slot, tokens: q.ids.map((t) => tok.decode([t])), needle: [q.needleStart, q.needleEnd] as [number, number], questionStart: q.questionStart, key: q.key };
    const d = await ctx.checked('diagnostics', () => model.diagnostics(q.ids));
    post({ id, type: 'selectivity', result: { ...base, kind: d.kind, layers: d.layers.map((l) => Array.from(l)) } });
  }
  post({ id, type: 'done', cancelled: false });
}

// ---------------------------------------------------------------------------------------------------------------

async function handle(req: WorkerRequest): Promise<void> {
  switch (req.type) {
    case 'init': {
      const ctx = await context();
      const info = ctx.acquired.adapterInfo;
      post({ id: req.id, type: 'ready', info: { ...info, features: [...ctx.features], limits: { ...ctx.limits } } });
      return;
    }
    case 'selftest': {
      // Runs the copy kernel on n floats and checks the result: proves the page reaches a working GPU pipeline.
      const ctx = await context();
      const x = new Float32Array(req.n).map((_, i) => Math.sin(i) * 1000);
      const src = ctx.upload(x);
      const dst = ctx.buffer(req.n * 4);
      const k = new CopyKernel(ctx);
      ctx.run((pass) => k.encode(pass, src, dst, req.n));
      const y = await ctx.readF32(dst, req.n);
      let err = 0;
      for (let i = 0; i < req.n; i++) err = Math.max(err, Math.abs(y[i] - x[i]));
      ctx.pool.release(src);
      ctx.pool.release(dst);
      post({ id: req.id, type: 'selftest-result', n: req.n, maxAbsError: err, sample: Array.from(y.slice(0, 4)) });
      return;
    }
    case 'lose-device': {
      const ctx = ctxPromise ? await ctxPromise : null;
      ctx?.device.destroy();
      post({ id: req.id, type: 'done', cancelled: false });
      return;
    }
    case 'cancel':
      aborts.get(req.target)?.abort();
      post({ id: req.id, type: 'done', cancelled: false });
      return;
    case 'memory-cap': {
      const ctx = await context();
      ctx.pool.memoryCap = req.bytes;
      post({ id: req.id, type: 'done', cancelled: false });
      return;
    }
    case 'kernels':
      kernels = { ...req.kernels };
      for (const m of [...Object.values(models), ...Object.values(staged)]) {
        m.model.kernels = { ...kernels };
        m.info.kernels = { ...kernels };
      }
      post({ id: req.id, type: 'done', cancelled: false });
      return;
    case 'tokenize': {
      const counts: Partial<Record<Arch, number>> = {};
      for (const [slot, m] of Object.entries(models) as [Arch, { model: Loaded }][]) counts[slot] = m.model.tokenizer.encode(req.text, { addSpecialTokens: false }).length;
      post({ id: req.id, type: 'tokens', counts });
      return;
    }
    case 'memory': {
      const ctx = ctxPromise ? await ctxPromise : null;
      const pool: Record<string, number> = { ...(ctx?.pool.bytesByCategory() ?? {}), cachedFree: ctx?.pool.cachedFreeBytes() ?? 0 };
      const ms: Partial<Record<Arch, ModelMemory>> = {};
      const held: Partial<Record<Arch, ModelMemory>> = {};
      for (const [slot, m] of Object.entries(models) as [Arch, { model: Loaded }][]) {
        ms[slot] = m.model.memory();
        held[slot] = m.model.memoryHeld();
      }
      post({ id: req.id, type: 'memory-report', report: { models: ms, held, pool } });
      return;
    }
    case 'unload':
      enqueue(req.id, async () => {
        const m = models[req.slot];
        delete models[req.slot];
        m?.model.dispose();
        post({ id: req.id, type: 'done', cancelled: false });
      });
      return;
    case 'load':
      enqueue(req.id, (signal) => load(req.id, req.slot, req.source, signal, req.stage));
      return;
    case 'commit':
    case 'discard':
      // commit: the staged models replace the live ones (which are freed); discard: the staged ones are freed
      enqueue(req.id, async () => {
        for (const slot of req.slots) {
          const s = staged[slot];
          if (!s) continue;
          delete staged[slot];
          if (req.type === 'discard') {
            s.model.dispose();
            continue;
          }
          s.model.kernels = { ...kernels };
          s.info.kernels = { ...kernels };
          const old = models[slot];
          models[slot] = s;
          old?.model.dispose();
        }
        post({ id: req.id, type: 'done', cancelled: false });
      });
      return;
    case 'generate':
      enqueue(req.id, (signal) => generate(req.id, req.params, signal));
      return;
    case 'sweep':
      enqueue(req.id, (signal) => sweep(req.id, req.params, signal));
      return;
    case 'recall':
      enqueue(req.id, (signal) => recall(req.id, req.params, signal));
      return;
    case 'diagnostics':
      enqueue(req.id, (signal) => diagnostics(req.id, req.params, signal));
      return;
  }
}

self.onmessage = (ev: MessageEvent<WorkerRequest>) => {
  const req = ev.data;
  handle(req).catch((e: unknown) => {
    post({ id: req.id, type: 'error', code: errorCode(e), message: message(e) });
  });
};
