/**
 * The page's side of the GPU worker: starts it, turns user actions into worker requests, folds streamed events into
 * the store (batched per animation frame so streaming never floods React), records finished runs for export.
 */
import { GpuWorkerClient, WorkerError } from '../worker/client';
import type { MemoryReport, WorkerEvent } from '../worker/protocol';
import type { Arch } from '../models/types';
import type { KernelChoice } from '../models/kernel-choice';
import { allPairs, type ModelPair, type RegistryEntry } from '../hub/registry';
import type { ModelSource } from '../hub/hub';
import { contextLengths } from '../recall/haystack';
import type { LossCurve, RecallPoint, SweepPoint } from '../recall/types';
import { activeSlots, getState, idleJob, patchSlot, setState, toast, type AppState, type JobState, type LimitNote, type RunKind } from '../store/store';
import type { Settings } from '../store/url';

let client: GpuWorkerClient | null = null;
const loadJobs = new Map<Arch, number>();
/** The pair last loaded, to reload after a device loss. */
let lastPair: ModelPair | null = null;

export const ARCH_LABEL: Record<Arch, string> = { mamba: 'Mamba', transformer: 'Transformer' };
/** The largest context this page offers when no model is loaded to say better. */
export const DEFAULT_MAX_TOKENS = 131_072;

function appBase(): string {
  return new URL('./', location.href).href.replace(/\/+$/, '');
}

/** What the demo pair can do (tools/demo-card.mjs), served with the demo models. */
export function demoResultsUrl(): string {
  return `${appBase()}/models/demo-results.json`;
}

export function pairs(): ModelPair[] {
  return allPairs(appBase());
}

export function findPair(id: string): ModelPair {
  return pairs().find((p) => p.id === id) ?? pairs()[0];
}

function sourceFor(e: RegistryEntry, hub: string): ModelSource {
  return e.source.kind === 'hub' ? { ...e.source, baseUrl: hub.trim() || undefined } : e.source;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------------------------
// start-up, device loss

export async function boot(): Promise<void> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    setState({ gpu: { kind: 'no-webgpu', message: 'navigator.gpu is undefined: this browser does not expose WebGPU.' } });
    return;
  }
  client?.terminate();
  const mine = new GpuWorkerClient();
  client = mine;
  mine.onBroadcast((e) => {
    if (e.type === 'device-lost') onDeviceLost(e.message);
  });
  try {
    const ready = await mine.request({ type: 'init' }, ['ready']);
    const st = await mine.request({ type: 'selftest', n: 1 << 16 }, ['selftest-result']);
    if (client !== mine) return;
    setState({ gpu: { kind: 'ready', info: ready.info, selftest: { ok: st.maxAbsError === 0, maxAbsError: st.maxAbsError } } });
    await pushMemoryCap();
    void calibrate(mine); // queued before the demo's load: nothing else runs on the GPU while it measures
    autoloadDemo();
  } catch (e) {
    if (client !== mine) return; // replaced (React StrictMode runs effects twice in development)
    const code = e instanceof WorkerError ? e.code : '';
    setState({ gpu: code === 'no-webgpu' || code === 'no-adapter' ? { kind: 'no-webgpu', message: describe(e) } : { kind: 'error', message: describe(e) } });
  }
}

/** The adapter's rates for the rooflines (src/roofline/calibrate.ts), measured once per device by the worker. */
async function calibrate(c: GpuWorkerClient): Promise<void> {
  setState({ calibration: null });
  try {
    const r = await c.request({ type: 'calibrate' }, ['calibration']);
    if (client === c) setState({ calibration: r.calibration });
  } catch {
    /* no calibration: the pages shows speeds without their floors */
  }
}

/** First open: the built-in demo pair (served by this page, ~19 MB, no network beyond it) loads by itself, so the page
 *  is usable at once. Only for the demo pair, only when nothing is loaded yet, and not with ?autoload=0. */
let autoloaded = false;
function autoloadDemo(): void {
  const s = getState();
  if (autoloaded || !s.settings.autoload || s.settings.pair !== 'demo') return;
  if (s.slots.mamba.status !== 'empty' || s.slots.transformer.status !== 'empty') return;
  autoloaded = true;
  void loadPair('demo');
}

/** Testing hook (e2e): make the worker lose its GPU device. */
export async function loseDevice(): Promise<void> {
  await need().request({ type: 'lose-device' }, ['done']);
}

/** Testing hook (e2e): the worker's memory report now (live bytes per pool category, cached free bytes, models). */
export async function memoryReport(): Promise<MemoryReport> {
  return (await need().request({ type: 'memory' }, ['memory-report'])).report;
}
(globalThis as { __playground?: unknown }).__playground = { loseDevice, memoryReport };

export function shutdown(): void {
  client?.terminate();
  client = null;
}

function onDeviceLost(message: string): void {
  const s = getState();
  const info = s.gpu.kind === 'ready' ? s.gpu.info : undefined;
  const stop = (j: JobState) => (j.running ? { ...j, running: false, jobId: null, error: 'The GPU device was lost during this run.' } : j);
  setState({
    gpu: { kind: 'lost', message, info },
    slots: { mamba: { status: 'empty' }, transformer: { status: 'empty' } },
    compare: { ...s.compare, ...stop(s.compare) },
    sweep: { ...s.sweep, ...stop(s.sweep) },
    recall: { ...s.recall, ...stop(s.recall) },
    claims: { ...s.claims, ...stop(s.claims) },
    selectivity: { ...s.selectivity, ...stop(s.selectivity) },
  });
}

/** After a device loss: a new device, then the models that were loaded (from the browser cache). */
export async function recover(): Promise<void> {
  setState({ gpu: { kind: 'starting' } });
  await boot();
  if (getState().gpu.kind === 'ready' && lastPair) await loadPair(lastPair.id);
}

function need(): GpuWorkerClient {
  if (!client) throw new Error('The GPU worker is not running');
  return client;
}

// ---------------------------------------------------------------------------------------------------------------
// models

/** The "GPU memory cap" setting (MiB, 0 = none) → the worker's buffer pool. */
export async function pushMemoryCap(): Promise<void> {
  const mib = getState().settings.memCap;
  if (client) await client.request({ type: 'memory-cap', bytes: mib > 0 ? mib * 2 ** 20 : null }, ['done']);
}

async function loadSlot(slot: Arch, entry: RegistryEntry, pairId: string): Promise<boolean> {
  const c = need();
  const source = sourceFor(entry, getState().settings.hub);
  patchSlot(slot, { status: 'loading', sourceId: pairId, progress: undefined, error: undefined }, true);
  const job = c.start({ type: 'load', slot, source }, ['loaded', 'done'], (e) => {
    if (e.type === 'load-progress') patchSlot(slot, { progress: e.progress });
  });
  loadJobs.set(slot, job.id);
  try {
    const r = await job.result;
    if (r.type === 'done') {
      patchSlot(slot, { status: 'empty', error: 'Loading cancelled' }, true);
      return false;
    }
    patchSlot(slot, { status: 'ready', info: r.info, progress: undefined, sourceId: pairId });
    return true;
  } catch (e) {
    patchSlot(slot, { status: 'error', error: describe(e), sourceId: pairId });
    return false;
  } finally {
    loadJobs.delete(slot);
  }
}

/** Loads both models of a pair (Mamba first), with progress; cancel with cancelLoad(). */
export async function loadPair(pairId: string): Promise<void> {
  const pair = findPair(pairId);
  lastPair = pair;
  await loadSlot('mamba', pair.mamba, pair.id);
  // After a failure the other model still loads (one working model beats none); after a cancel, stop.
  if (getState().slots.mamba.error !== 'Loading cancelled') await loadSlot('transformer', pair.transformer, pair.id);
  await refreshMemory();
}

export function cancelLoad(): void {
  for (const id of loadJobs.values()) client?.cancel(id);
}

export async function unloadAll(): Promise<void> {
  const c = need();
  for (const slot of ['mamba', 'transformer'] as Arch[]) {
    await c.request({ type: 'unload', slot }, ['done']);
    patchSlot(slot, {}, true);
  }
  lastPair = null;
  await refreshMemory();
}

export async function refreshMemory(): Promise<void> {
  if (!client) return;
  try {
    const r = await client.request({ type: 'memory' }, ['memory-report']);
    setState({ memory: r.report });
  } catch {
    /* the memory panel keeps its last report */
  }
}

export async function countTokens(text: string): Promise<Partial<Record<Arch, number>>> {
  if (!client) return {};
  const s = getState();
  if (s.slots.mamba.status !== 'ready' && s.slots.transformer.status !== 'ready') return {};
  const r = await client.request({ type: 'tokenize', text }, ['tokens']);
  return r.counts;
}

/** The longest prompt the loaded models of the current choice can take. */
export function maxTokens(s: AppState): number {
  const limits = activeSlots(s).map((a) => s.slots[a].info!.maxContext);
  return limits.length ? Math.min(...limits) : DEFAULT_MAX_TOKENS;
}

// ---------------------------------------------------------------------------------------------------------------
// runs

/** The kernels a run uses: the toggles' setting when it starts (a toggle during the run applies to the next one). */
export function runKernels(s: Settings): KernelChoice {
  return { scan: s.scan, attention: s.attn };
}

/** Records a finished run with the settings it started with (`at`) and the kernels it ran. */
function record(kind: RunKind, startedAt: Date, at: Settings, job: JobState, data: unknown, settingsKeys: (keyof Settings)[]): void {
  const s = getState();
  const settings: Record<string, unknown> = {};
  for (const k of settingsKeys) settings[k] = at[k];
  const kernels = runKernels(at);
  settings.arch = at.arch;
  settings.scan = kernels.scan;
  settings.attn = kernels.attention;
  const models: Partial<Record<Arch, NonNullable<AppState['slots']['mamba']['info']>>> = {};
  for (const a of ['mamba', 'transformer'] as Arch[]) if (s.slots[a].info) models[a] = s.slots[a].info;
  const run = {
    id: `${kind}-${startedAt.getTime().toString(36)}`,
    kind,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    cancelled: job.cancelled,
    error: job.error,
    settings,
    models,
    calibration: s.calibration,
    data,
  };
  setState((st) => ({ runs: [...st.runs, run] }));
}

type JobKey = 'compare' | 'sweep' | 'recall' | 'claims' | 'selectivity';

function patchJob<K extends JobKey>(key: K, p: Partial<AppState[K]>): void {
  setState((s) => ({ [key]: { ...s[key], ...p } }) as Partial<AppState>);
}

/** Batches high-rate events into one store update per animation frame. */
function frameBatcher<E>(apply: (events: E[]) => void): { push(e: E): void; flush(): void } {
  let queue: E[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (!queue.length) return;
    const q = queue;
    queue = [];
    apply(q);
  };
  return {
    push(e) {
      queue.push(e);
      if (!scheduled) {
        scheduled = true;
        if (document.visibilityState === 'visible') requestAnimationFrame(flush);
        else setTimeout(flush, 50);
      }
    },
    flush,
  };
}

function slotsOrToast(): Arch[] | null {
  const slots = activeSlots(getState());
  if (!slots.length) {
    toast('Load a model pair first (top of the page).', 'error');
    return null;
  }
  return slots;
}

async function runJob<K extends JobKey>(
  key: K,
  req: Parameters<GpuWorkerClient['start']>[0],
  onEvent: (e: WorkerEvent) => void,
): Promise<JobState> {
  const c = need();
  const job = c.start(req, ['done'], (e) => {
    if (e.type === 'progress') patchJob(key, { progress: { done: e.done, total: e.total, label: e.label } } as Partial<AppState[K]>);
    else onEvent(e);
  });
  patchJob(key, { running: true, jobId: job.id, error: null, cancelled: false, progress: null } as Partial<AppState[K]>);
  let state: JobState;
  try {
    const r = await job.result;
    state = { ...idleJob, cancelled: r.cancelled, progress: getState()[key].progress };
  } catch (e) {
    state = { ...idleJob, error: describe(e), progress: getState()[key].progress };
  }
  patchJob(key, state as Partial<AppState[K]>);
  void refreshMemory();
  return state;
}

export function cancelJob(key: JobKey): void {
  const id = getState()[key].jobId;
  if (id !== null) client?.cancel(id);
}

export async function runGenerate(): Promise<void> {
  const slots = slotsOrToast();
  if (!slots) return;
  const s = getState().settings;
  const started = new Date();
  const outputs = Object.fromEntries(slots.map((a) => [a, { promptTokens: 0, text: '', tokens: [], done: false }]));
  patchJob('compare', { outputs, prompt: s.prompt });
  const batch = frameBatcher<WorkerEvent>((events) =>
    setState((st) => {
      const out = { ...st.compare.outputs };
      for (const e of events) {
        if (e.type === 'gen-start') out[e.slot] = { ...out[e.slot]!, promptTokens: e.promptTokens };
        else if (e.type === 'gen-tokens') {
          const o = out[e.slot]!;
          out[e.slot] = { ...o, text: o.text + e.text, tokens: [...o.tokens, ...e.ids.map((_, i) => ({ index: e.index + i, ms: e.msEach }))] };
        } else if (e.type === 'gen-stats') out[e.slot] = { ...out[e.slot]!, stats: e.stats, memory: e.memory, text: e.text, trace: e.trace, done: true };
        else if (e.type === 'gen-roofline') out[e.slot] = { ...out[e.slot]!, roofline: e.roofline };
      }
      return { compare: { ...st.compare, outputs: out } };
    }),
  );
  const job = await runJob(
    'compare',
    {
      type: 'generate',
      params: {
        prompt: s.prompt, slots, maxNewTokens: s.maxNew, temperature: s.temperature, topK: s.topK, topP: s.topP, seed: s.seed, mode: s.mode, batch: s.batch,
        kernels: runKernels(s),
      },
    },
    (e) => batch.push(e),
  );
  batch.flush();
  record('generate', started, s, job, { prompt: s.prompt, outputs: getState().compare.outputs }, ['prompt', 'maxNew', 'temperature', 'topK', 'topP', 'seed', 'mode', 'batch']);
}

export function sweepLengths(s: AppState['settings']): number[] {
  return contextLengths(Math.max(1, Math.round(s.sweepMin)), Math.max(1, Math.round(s.sweepMax)), Math.max(1.1, s.sweepFactor));
}

function limitNote(e: Extract<WorkerEvent, { type: 'limit' }>): LimitNote {
  return { slot: e.slot, length: e.length, lastOk: e.lastOk, reason: e.reason, message: e.message };
}

export async function runSweep(): Promise<void> {
  const slots = slotsOrToast();
  if (!slots) return;
  const s = getState().settings;
  const lengths = sweepLengths(s);
  const started = new Date();
  patchJob('sweep', { points: [], limits: [] });
  const job = await runJob('sweep', { type: 'sweep', params: { slots, lengths, decodeTokens: s.sweepDecode, repeats: s.sweepRepeats, seed: s.seed, kernels: runKernels(s) } }, (e) => {
    if (e.type === 'sweep-point') setState((st) => ({ sweep: { ...st.sweep, points: [...st.sweep.points, e.point] } }));
    else if (e.type === 'limit') setState((st) => ({ sweep: { ...st.sweep, limits: [...st.sweep.limits, limitNote(e)] } }));
  });
  const st = getState().sweep;
  record('sweep', started, s, job, { lengths, points: st.points, limits: st.limits }, ['sweepMin', 'sweepMax', 'sweepFactor', 'sweepDecode', 'sweepRepeats', 'seed']);
}

export async function runRecall(): Promise<void> {
  const slots = slotsOrToast();
  if (!slots) return;
  const s = getState();
  const started = new Date();
  const p = s.settings;
  patchJob('recall', { points: [], curves: [], limits: [], skips: [] });
  const job = await runJob(
    'recall',
    { type: 'recall', params: { slots, probes: p.probes, document: s.document.text, lengths: p.lengths, depths: p.depths, trials: p.trials, seed: p.seed, keys: p.keys, kernels: runKernels(p) } },
    (e) => {
      if (e.type === 'recall-point') setState((st) => ({ recall: { ...st.recall, points: [...st.recall.points, e.point] } }));
      else if (e.type === 'recall-skip') setState((st) => ({ recall: { ...st.recall, skips: [...st.recall.skips, e.skip] } }));
      else if (e.type === 'loss-curve') setState((st) => ({ recall: { ...st.recall, curves: [...st.recall.curves, e.curve] } }));
      else if (e.type === 'limit') setState((st) => ({ recall: { ...st.recall, limits: [...st.recall.limits, limitNote(e)] } }));
    },
  );
  const r = getState().recall;
  record('recall', started, p, job, { document: { source: s.document.source, chars: s.document.text.length }, points: r.points, lossCurves: r.curves, limits: r.limits, skips: r.skips }, [
    'probes', 'lengths', 'depths', 'trials', 'keys', 'seed', 'doc',
  ]);
}

/** Claims: 'scaling' runs a context sweep (prefill, memory, decode, crossover); 'recall' runs passkey and multikey probes. */
export async function runClaims(which: 'scaling' | 'recall' | 'all'): Promise<void> {
  const slots = activeSlots(getState());
  if (slots.length < 2) {
    toast('The claims compare both models: load a pair and choose "both" architectures.', 'error');
    return;
  }
  const started = new Date();
  const s = getState();
  const p = s.settings;
  const sweep: SweepPoint[] = which === 'recall' ? s.claims.sweep : [];
  const recall: RecallPoint[] = which === 'scaling' ? s.claims.recall : [];
  patchJob('claims', { sweep, recall, limits: [], skips: [] });
  let job: JobState = idleJob;
  const onLimit = (e: WorkerEvent) => {
    if (e.type === 'limit') setState((st) => ({ claims: { ...st.claims, limits: [...st.claims.limits, limitNote(e)] } }));
  };
  if (which !== 'recall') {
    patchJob('claims', { stage: 'Context sweep' });
    job = await runJob('claims', { type: 'sweep', params: { slots, lengths: sweepLengths(p), decodeTokens: Math.max(4, p.sweepDecode), repeats: p.sweepRepeats, seed: p.seed, kernels: runKernels(p) } }, (e) => {
      if (e.type === 'sweep-point') setState((st) => ({ claims: { ...st.claims, sweep: [...st.claims.sweep, e.point] } }));
      else onLimit(e);
    });
  }
  if (which !== 'scaling' && !job.cancelled && !job.error) {
    patchJob('claims', { stage: 'Passkey and multikey recall' });
    job = await runJob(
      'claims',
      {
        type: 'recall',
        params: { slots, probes: ['passkey', 'multikey'], document: s.document.text, lengths: p.lengths, depths: p.depths, trials: p.trials, seed: p.seed, keys: p.keys, kernels: runKernels(p) },
      },
      (e) => {
        if (e.type === 'recall-point') setState((st) => ({ claims: { ...st.claims, recall: [...st.claims.recall, e.point] } }));
        else if (e.type === 'recall-skip') setState((st) => ({ claims: { ...st.claims, skips: [...st.claims.skips, e.skip] } }));
        else onLimit(e);
      },
    );
  }
  patchJob('claims', { stage: null });
  const c = getState().claims;
  record('claims', started, p, job, { which, sweep: c.sweep, recall: c.recall, limits: c.limits, skips: c.skips }, ['sweepMin', 'sweepMax', 'sweepFactor', 'lengths', 'depths', 'trials', 'keys', 'seed']);
}

export async function runSelectivity(length: number, depth: number): Promise<void> {
  const slots = slotsOrToast();
  if (!slots) return;
  const s = getState();
  const started = new Date();
  patchJob('selectivity', { results: [] });
  const job = await runJob('selectivity', { type: 'diagnostics', params: { slots, document: s.document.text, length, depth, seed: s.settings.seed, kernels: runKernels(s.settings) } }, (e) => {
    if (e.type === 'selectivity') setState((st) => ({ selectivity: { ...st.selectivity, results: [...st.selectivity.results, e.result] } }));
  });
  record('selectivity', started, s.settings, job, { length, depth, results: getState().selectivity.results }, ['seed']);
}

export type { LossCurve };
