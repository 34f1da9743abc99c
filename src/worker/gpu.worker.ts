/// <reference lib="webworker" />
/**
 * The GPU worker: owns the WebGPU device and the loaded models, and maps ./protocol messages onto the engine
 * (src/engine: one function per experiment, the same ones the CLIs call). GPU jobs run one at a time (a promise
 * chain); each has an AbortController that `cancel` trips; the events a job emits go back tagged with its id.
 */
import { acquireDevice } from '../gpu/device';
import { GpuContext } from '../gpu/context';
import { GpuError } from '../gpu/errors';
import { CopyKernel } from '../kernels/copy';
import { calibrated } from '../roofline/calibrate';
import { loadModel } from '../models/load';
import { sourceLabel, type ModelSource } from '../hub/hub';
import type { Arch, ModelMemory } from '../models/types';
import { Cancelled, errorCode, errorMessage, httpStatus, isAbort } from '../engine/errors';
import type { EngineEvent, Models, RunEnd, TokenizedModel } from '../engine/events';
import { eosOf, runGenerate } from '../engine/generate';
import { runSweep } from '../engine/sweep';
import { runRecall } from '../engine/recall';
import { runDiagnostics } from '../engine/diagnostics';
import { ReadbackCounter } from '../engine/readbacks';
import type { LoadProgress, ModelInfo, WorkerEvent, WorkerRequest } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

const models: Models = {};
/** Models loaded beside the live ones (a pair switch), swapped in by `commit`. */
const staged: Models = {};
const aborts = new Map<number, AbortController>();
let ctxPromise: Promise<GpuContext> | null = null;
let queue: Promise<void> = Promise.resolve();

const post = (e: WorkerEvent) => self.postMessage(e);
const now = () => performance.now();

function context(): Promise<GpuContext> {
  ctxPromise ??= acquireDevice(navigator.gpu).then((a) => {
    new ReadbackCounter(a.device); // before anything creates a buffer on the device (generate reports readbacks)
    const mine = ctxPromise;
    a.lost.then((err) => {
      if (ctxPromise !== mine) return; // an old device we replaced on purpose
      ctxPromise = null;
      for (const slot of Object.keys(models) as Arch[]) drop(slot, false);
      for (const slot of Object.keys(staged) as Arch[]) delete staged[slot];
      post({ id: 0, type: 'device-lost', message: err.message });
    });
    return new GpuContext(a);
  });
  ctxPromise.catch(() => (ctxPromise = null));
  return ctxPromise;
}

function drop(slot: Arch, dispose = true, from: Models = models): void {
  const m = from[slot];
  delete from[slot];
  if (dispose) m?.dispose();
}

/** Runs a GPU job after the ones before it; its end (done, cancelled, or error) is the request's final event. */
function enqueue(id: number, job: (signal: AbortSignal, emit: (e: EngineEvent) => void) => Promise<RunEnd | void>): void {
  const ac = new AbortController();
  aborts.set(id, ac);
  queue = queue
    .then(() => (ac.signal.aborted ? Promise.reject(new Cancelled()) : job(ac.signal, (e) => post({ ...e, id }))))
    .then((end) => {
      if (end) post({ id, type: 'done', cancelled: end.cancelled });
    })
    .catch((e: unknown) =>
      post(isAbort(e) ? { id, type: 'done', cancelled: true } : { id, type: 'error', code: errorCode(e), message: errorMessage(e), status: httpStatus(e) }))
    .finally(() => aborts.delete(id));
}

/** Loads a model into `slot` (replacing what was there), with byte progress summed over its files; with `stage`,
 *  beside the model in the slot, which stays until `commit`. */
async function load(id: number, slot: Arch, source: ModelSource, signal: AbortSignal, stage = false): Promise<void> {
  const ctx = await context();
  const into = stage ? staged : models;
  drop(slot, true, into);
  const files = new Map<string, { loaded: number; total: number | null; fromCache: boolean }>();
  let lastPost = 0;
  const t0 = now();
  const onProgress = (q: { file: string; loaded: number; total: number | null; fromCache: boolean; done: boolean }) => {
    files.set(q.file, { loaded: q.loaded, total: q.total, fromCache: q.fromCache });
    if (now() - lastPost < 100 && !q.done) return;
    lastPost = now();
    const all = [...files.values()];
    const total = all.reduce<number | null>((t, f) => (t === null || f.total === null ? null : t + f.total), 0);
    const progress: LoadProgress = { slot, file: q.file, loaded: all.reduce((t, f) => t + f.loaded, 0), total, fromCache: all.every((f) => f.fromCache) };
    post({ id, type: 'load-progress', progress });
  };
  const model: TokenizedModel & { tokenizerFrom?: string | null; weightFiles?: ModelInfo['weights'] } = await loadModel(ctx, source, { signal, onProgress });
  if (signal.aborted || model.arch !== slot) {
    model.dispose();
    if (signal.aborted) throw new Cancelled();
    throw new GpuError('validation', `${sourceLabel(source)} is a ${model.arch} model, not a ${slot} model`);
  }
  const info: ModelInfo = {
    arch: model.arch, name: model.name, source: sourceLabel(source),
    tokenizerFrom: model.tokenizerFrom ?? null, weights: model.weightFiles, vocabSize: model.vocabSize, maxContext: model.maxContext,
    memory: model.memory(), eosId: eosOf(model), loadMs: now() - t0, fromCache: files.size > 0 && [...files.values()].every((f) => f.fromCache),
    trainedContext: trainedContextOf(model),
  };
  into[slot] = model;
  post({ id, type: 'loaded', info });
}

/** The context a model was trained on, where its config records it (GPT-NeoX max_position_embeddings). */
function trainedContextOf(m: TokenizedModel): number | null {
  const c = (m as { config?: { arch?: string; maxPositionEmbeddings?: number } }).config;
  return c?.arch === 'gpt-neox' && c.maxPositionEmbeddings ? c.maxPositionEmbeddings : null;
}

/** Runs the copy kernel on n floats and checks the result: proves the page reaches a working GPU pipeline. */
async function selftest(id: number, n: number): Promise<void> {
  const ctx = await context();
  const x = new Float32Array(n).map((_, i) => Math.sin(i) * 1000);
  const src = ctx.upload(x);
  const dst = ctx.buffer(n * 4);
  ctx.run((pass) => new CopyKernel(ctx).encode(pass, src, dst, n));
  const y = await ctx.readF32(dst, n);
  let err = 0;
  for (let i = 0; i < n; i++) err = Math.max(err, Math.abs(y[i] - x[i]));
  ctx.pool.release(src);
  ctx.pool.release(dst);
  post({ id, type: 'selftest-result', n, maxAbsError: err, sample: Array.from(y.slice(0, 4)) });
}

async function handle(req: WorkerRequest): Promise<void> {
  const { id } = req;
  switch (req.type) {
    case 'init': {
      const ctx = await context();
      post({ id, type: 'ready', info: { ...ctx.acquired.adapterInfo, features: [...ctx.features], limits: { ...ctx.limits } } });
      return;
    }
    case 'selftest':
      return selftest(id, req.n);
    case 'calibrate':
      // queued like a GPU job, so that nothing else runs on the GPU while it measures
      return enqueue(id, async () => {
        post({ id, type: 'calibration', calibration: await calibrated(await context()) });
      });
    case 'lose-device':
      (ctxPromise ? await ctxPromise : null)?.device.destroy();
      post({ id, type: 'done', cancelled: false });
      return;
    case 'cancel':
      aborts.get(req.target)?.abort();
      post({ id, type: 'done', cancelled: false });
      return;
    case 'memory-cap':
      (await context()).pool.memoryCap = req.bytes;
      post({ id, type: 'done', cancelled: false });
      return;
    case 'tokenize': {
      const counts: Partial<Record<Arch, number>> = {};
      for (const [slot, m] of Object.entries(models) as [Arch, TokenizedModel][]) counts[slot] = m.tokenizer.encode(req.text, { addSpecialTokens: false }).length;
      post({ id, type: 'tokens', counts });
      return;
    }
    case 'memory': {
      const ctx = ctxPromise ? await ctxPromise : null;
      const pool: Record<string, number> = { ...(ctx?.pool.bytesByCategory() ?? {}), cachedFree: ctx?.pool.cachedFreeBytes() ?? 0 };
      const ms: Partial<Record<Arch, ModelMemory>> = {};
      const held: Partial<Record<Arch, ModelMemory>> = {};
      for (const [slot, m] of Object.entries(models) as [Arch, TokenizedModel][]) {
        ms[slot] = m.memory();
        held[slot] = m.memoryHeld();
      }
      post({ id, type: 'memory-report', report: { models: ms, held, pool } });
      return;
    }
    case 'unload':
      return enqueue(id, async () => {
        drop(req.slot);
        return { cancelled: false };
      });
    case 'load':
      return enqueue(id, (signal) => load(id, req.slot, req.source, signal, req.stage));
    case 'commit':
    case 'discard':
      // commit: the staged models replace the live ones (which are freed); discard: the staged ones are freed
      return enqueue(id, async () => {
        for (const slot of req.slots) {
          const s = staged[slot];
          if (!s) continue;
          delete staged[slot];
          if (req.type === 'discard') s.dispose();
          else {
            drop(slot);
            models[slot] = s;
          }
        }
        return { cancelled: false };
      });
    case 'generate':
      return enqueue(id, (signal, emit) => runGenerate(models, req.params, emit, signal));
    case 'sweep':
      return enqueue(id, (signal, emit) => runSweep(models, req.params, emit, signal));
    case 'recall':
      return enqueue(id, (signal, emit) => runRecall(models, req.params, emit, signal));
    case 'diagnostics':
      return enqueue(id, (signal, emit) => runDiagnostics(models, req.params, emit, signal));
  }
}

self.onmessage = (ev: MessageEvent<WorkerRequest>) => {
  const req = ev.data;
  handle(req).catch((e: unknown) => post({ id: req.id, type: 'error', code: errorCode(e), message: errorMessage(e), status: httpStatus(e) }));
};
