/// <reference lib="webworker" />
/**
 * The GPU worker: owns the WebGPU device and the loaded models, and maps ./protocol messages onto the engine
 * (src/engine: one function per experiment, the same ones the CLIs call). GPU jobs run one at a time (a promise
 * chain); each has an AbortController that `cancel` trips; the events a job emits go back tagged with its id.
 */
import { acquireDevice } from '../gpu/device';
import { GpuContext } from '../gpu/context';
import { CopyKernel } from '../kernels/copy';
import { calibrated } from '../roofline/calibrate';
import type { ModelSource } from '../hub/hub';
import type { Arch, ModelMemory } from '../models/types';
import { Cancelled, errorCode, errorMessage, httpStatus, isAbort } from '../engine/errors';
import type { EngineEvent, Models, RunEnd, TokenizedModel } from '../engine/events';
import { runGenerate } from '../engine/generate';
import { runSweep } from '../engine/sweep';
import { runRecall } from '../engine/recall';
import { runDiagnostics } from '../engine/diagnostics';
import { ReadbackCounter } from '../engine/readbacks';
import type { WorkerEvent, WorkerRequest } from './protocol';
import { loadSlot } from './load';

declare const self: DedicatedWorkerGlobalScope;

const models: Models = {};
/** Models loaded beside the live ones (a pair switch), swapped in by `commit`. */
const staged: Models = {};
const aborts = new Map<number, AbortController>();
let ctxPromise: Promise<GpuContext> | null = null;
let queue: Promise<void> = Promise.resolve();

const post = (e: WorkerEvent) => self.postMessage(e);

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

/** Loads a model into `slot` (replacing what was there); with `stage`, beside the model in the slot, which stays
 *  until `commit`. */
async function load(id: number, slot: Arch, source: ModelSource, signal: AbortSignal, stage = false): Promise<void> {
  const ctx = await context();
  const into = stage ? staged : models;
  drop(slot, true, into);
  const { model, info } = await loadSlot(ctx, slot, source, signal, (progress) => post({ id, type: 'load-progress', progress }));
  into[slot] = model;
  post({ id, type: 'loaded', info });
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
