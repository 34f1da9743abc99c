/**
 * The page's side of the GPU worker: starts it, turns user actions into worker requests, folds streamed events into
 * the store (batched per animation frame so streaming never floods React), records finished runs for export.
 */
import { GpuWorkerClient, WorkerError } from '../worker/client';
import type { MemoryReport, WorkerEvent } from '../worker/protocol';
import { ARCHS, type Arch } from '../models/types';
import type { KernelChoice } from '../models/kernel-choice';
import { allPairs, HUB_MAMBA2_MODELS, HUB_MODELS, modelPair, type ModelPair, type RegistryEntry } from '../hub/registry';
import { hubSource, type ModelSource } from '../hub/hub';
import { contextLengths } from '../recall/haystack';
import type { LossCurve, RecallPoint, SweepPoint } from '../recall/types';
import {
  activeSlots, getState, idleJob, patchSlot, setState, toast, type AppState, type JobState, type LimitNote, type PairNotice, type RunKind, type RunMeta,
  type SlotModel,
} from '../store/store';
import { choiceArchs, type Settings } from '../store/url';
import { explainLoadError } from './load-errors';
import { inspectModel, type ModelCheck } from './inspect';

let client: GpuWorkerClient | null = null;
const loadJobs = new Map<Arch, number>();
/** The pair last loaded, to reload after a device loss. */
let lastPair: ModelPair | null = null;

export const ARCH_LABEL: Record<Arch, string> = { mamba: 'Mamba', mamba2: 'Mamba-2', transformer: 'Transformer' };

/** The slot a registry entry loads into: the one of its architecture (GPT-NeoX: the Transformer's). */
export function entrySlot(e: RegistryEntry): Arch {
  return e.arch === 'gpt-neox' ? 'transformer' : e.arch;
}

/** A pair's (or three-way set's) models with their slots, in ARCHS order. */
export function pairSlots(pair: ModelPair): [Arch, RegistryEntry][] {
  return pair.entries.map((e) => [entrySlot(e), e]);
}

/** "A and B", "A, B and C". */
export function listWords(items: string[]): string {
  return items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
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

/** A hub repo id: owner/name (letters, digits, - _ .), as the hub spells them. */
export const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

function customEntry(repo: string, arch: RegistryEntry['arch']): RegistryEntry {
  const known = [...HUB_MODELS, ...HUB_MAMBA2_MODELS].find((m) => m.repo === repo);
  if (known) return known;
  return {
    id: repo, label: repo, arch, source: hubSource(repo), repo, params: 0, checkpointDtype: 'f32', format: 'safetensors', approxDownloadBytes: null, approximate: true,
    shape: { hiddenSize: 0, numLayers: 0, vocabSize: 0, extra: {} },
  };
}

/** The custom pair's fields: one repo id per architecture, in the order of a custom id (custom:mamba|transformer|mamba2). */
const CUSTOM_FIELDS = [
  { key: 'mambaRepo', arch: 'mamba', label: 'Mamba', example: 'state-spaces/mamba-130m-hf' },
  { key: 'transformerRepo', arch: 'gpt-neox', label: 'Transformer', example: 'EleutherAI/pythia-160m' },
  { key: 'mamba2Repo', arch: 'mamba2', label: 'Mamba-2', example: 'AntonV/mamba2-130m-hf' },
] as const;

/**
 * The pair with this id: the demo pair, a hub pair or three-way set, or 'custom' (the repo ids typed in the settings:
 * two or three of Mamba, Transformer, Mamba-2; as an id custom:<mamba>|<transformer>[|<mamba2>], an empty field for a
 * missing one); null if unknown.
 */
export function findPair(id: string, s: Settings = getState().settings): ModelPair | null {
  if (id === 'custom' || id.startsWith('custom:')) {
    const repos = id === 'custom' ? CUSTOM_FIELDS.map((f) => s[f.key].trim()) : id.slice(7).split('|').map((r) => r.trim());
    if (repos.length > CUSTOM_FIELDS.length) return null;
    const given = CUSTOM_FIELDS.map((f, i) => ({ ...f, repo: repos[i] ?? '' })).filter((f) => f.repo);
    if (given.length < 2 || given.some((f) => !REPO_ID.test(f.repo))) return null;
    const [m = '', t = '', m2 = ''] = repos;
    const pair = modelPair(m2 ? `custom:${m}|${t}|${m2}` : `custom:${m}|${t}`, '', given.map((f) => customEntry(f.repo, f.arch)));
    return { ...pair, label: pair.entries.map((e) => e.repo).join(pair.entries.length === 2 ? ' vs ' : ' · ') };
  }
  return pairs().find((p) => p.id === id) ?? null;
}

/** What is wrong with a custom pair's repo ids (null when two or three of them are given and look like owner/name). */
export function customPairProblem(s: Settings): string | null {
  const given = CUSTOM_FIELDS.filter((f) => s[f.key].trim());
  if (given.length < 2) return 'Type a hub repo id (owner/name) for each side: Mamba and Transformer, or any two of Mamba, Mamba-2 and Transformer, or all three.';
  for (const f of given) {
    const v = s[f.key].trim();
    if (!REPO_ID.test(v)) return `The ${f.label} id “${v}” is not a hub repo id: it should look like owner/name (e.g. ${f.example}).`;
  }
  return null;
}

/** Checks the ?pair= of a link: an unknown pair says so and the demo pair stands in. */
export function checkLinkedPair(): void {
  const s = getState().settings;
  if (s.pair === 'demo' || findPair(s.pair)) return;
  const what = s.pair === 'custom' ? `a custom pair with ${customPairProblem(s) ? 'incomplete repo ids' : 'these repo ids'}` : `the model pair “${s.pair}”`;
  setState((st) => ({
    settings: { ...st.settings, pair: 'demo' },
    pairNotice: {
      kind: 'warn',
      title: `This link asks for ${what}, which this page does not know.`,
      advice: 'The demo pair is shown instead. Pick a listed pair, or type hub repo ids under “Your own pair”.',
    },
  }));
}

/** The demo pair's card (public/models/demo-results.json): what it can do, and the context it was trained on. */
let demoCardPromise: Promise<{ trainLength?: number } & Record<string, unknown> | null> | null = null;
export function demoCard(): Promise<{ trainLength?: number } & Record<string, unknown> | null> {
  demoCardPromise ??= fetch(demoResultsUrl())
    .then((r) => (r.ok ? r.json() : null))
    .then((j) => (j && typeof j.format === 'string' && j.format.startsWith('mamba-vs-transformer demo results') ? j : null))
    .catch(() => null);
  return demoCardPromise;
}

/** The context a model was trained on, and where that figure comes from. */
async function trainedContext(pairId: string, entry: RegistryEntry, info: SlotModel): Promise<Pick<SlotModel, 'trainedContext' | 'trainedContextSource'>> {
  if (pairId === 'demo') {
    const card = await demoCard();
    if (card?.trainLength) return { trainedContext: card.trainLength, trainedContextSource: 'the demo card' };
  }
  if (info.trainedContext) return { trainedContext: info.trainedContext, trainedContextSource: 'max_position_embeddings in its config' };
  // The Mamba paper's Pile models (state-spaces/mamba-*-hf) were trained on 2,048-token sequences.
  if (entry.arch === 'mamba' && HUB_MODELS.some((m) => m.repo === entry.repo && m.arch === 'mamba')) {
    return { trainedContext: 2048, trainedContextSource: 'the Mamba paper (2,048-token training sequences)' };
  }
  // So were the Mamba-2 paper's Pile models (state-spaces/mamba2-*, converted as AntonV/mamba2-*-hf).
  if (entry.arch === 'mamba2' && HUB_MAMBA2_MODELS.some((m) => m.repo === entry.repo)) {
    return { trainedContext: 2048, trainedContextSource: 'the Mamba-2 paper (2,048-token training sequences)' };
  }
  return { trainedContext: null, trainedContextSource: undefined };
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
  if (ARCHS.some((a) => s.slots[a].status !== 'empty')) return;
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
    slots: { mamba: { status: 'empty' }, mamba2: { status: 'empty' }, transformer: { status: 'empty' } },
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
  if (getState().gpu.kind === 'ready' && lastPair) await loadPair(lastPair);
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

interface SlotResult {
  ok: boolean;
  cancelled?: boolean;
  error?: { code: string; message: string; status?: number };
}

/** Loads one model into its slot (stage: beside the model there, which stays usable until commit). */
async function loadSlot(slot: Arch, entry: RegistryEntry, pairId: string, stage: boolean): Promise<SlotResult> {
  const c = need();
  const source = sourceFor(entry, getState().settings.hub);
  const prev = getState().slots[slot];
  const previous = stage && prev.status === 'ready' ? prev.info : undefined;
  patchSlot(slot, { status: 'loading', sourceId: pairId, progress: undefined, error: undefined, previous }, true);
  const job = c.start({ type: 'load', slot, source, stage }, ['loaded', 'done'], (e) => {
    if (e.type === 'load-progress') patchSlot(slot, { progress: e.progress });
  });
  loadJobs.set(slot, job.id);
  try {
    const r = await job.result;
    if (r.type === 'done') return { ok: false, cancelled: true };
    const info: SlotModel = { ...r.info };
    Object.assign(info, await trainedContext(pairId, entry, info));
    patchSlot(slot, { status: stage ? 'loading' : 'ready', info, progress: undefined, sourceId: pairId, previous });
    return { ok: true };
  } catch (e) {
    const w = e as WorkerError;
    return { ok: false, error: { code: w.code ?? 'internal', message: describe(e), status: w.status } };
  } finally {
    loadJobs.delete(slot);
  }
}

function failureNotice(r: SlotResult, what: string, after: string): PairNotice {
  const f = explainLoadError(r.error ?? { code: 'internal', message: 'unknown error' }, { what, hub: getState().settings.hub, online: navigator.onLine });
  return { kind: 'error', title: f.title, advice: `${f.advice} ${after}`.trim(), detail: f.detail };
}

/** The slots back as they were before a staged load (the previous models never left the worker). */
function restoreSlots(before: AppState['slots']): void {
  setState({ slots: Object.fromEntries(ARCHS.map((a) => [a, { ...before[a], previous: undefined }])) as AppState['slots'] });
}

/** Frees the models in slots the pair has no model for (a three-way set replaced by a pair). */
async function unloadOthers(pair: ModelPair): Promise<void> {
  const keep = new Set(pairSlots(pair).map(([slot]) => slot));
  for (const slot of ARCHS) {
    if (keep.has(slot)) continue;
    if (getState().slots[slot].status === 'ready') await need().request({ type: 'unload', slot }, ['done']);
    patchSlot(slot, {}, true);
  }
}

/** Loads each model of the pair into its slot in turn; after a failure the others still load (one working model
 *  beats none). Returns the first failure, else ok. */
async function loadInPlace(pair: ModelPair): Promise<SlotResult> {
  await unloadOthers(pair);
  const results: [Arch, SlotResult, RegistryEntry][] = [];
  for (const [slot, entry] of pairSlots(pair)) {
    const r = await loadSlot(slot, entry, pair.id, false);
    results.push([slot, r, entry]);
    if (r.cancelled) break;
  }
  for (const [slot, r, e] of results) {
    if (r.cancelled) patchSlot(slot, { status: 'empty', error: 'Loading cancelled' }, true);
    else if (!r.ok) {
      const f = explainLoadError(r.error!, { what: e.repo, hub: getState().settings.hub, online: navigator.onLine });
      patchSlot(slot, { status: 'error', error: `${f.title} ${f.advice}`, errorDetail: f.detail, sourceId: pair.id }, true);
    }
  }
  return results.find(([, r]) => !r.ok)?.[1] ?? { ok: true };
}

/** After a load: an architecture choice that names a model the new pair does not have falls back to all of them. */
function fitChoice(): void {
  const s = getState();
  const ready = ARCHS.filter((a) => s.slots[a].status === 'ready');
  if (s.settings.arch !== 'both' && !choiceArchs(s.settings.arch).every((a) => ready.includes(a))) {
    setState({ settings: { ...s.settings, arch: 'both' } });
  }
}

/**
 * Loads the models of a pair or three-way set (in ARCHS order), with progress; cancel with cancelLoad(). With models
 * already loaded, the new ones load beside them and replace them only once all are in (the slots the new pair does
 * not fill are then freed): if loading fails or is cancelled, the previous models stay. When the GPU cannot hold both
 * at once, the previous models are freed first, and reloaded (from the browser cache) if the new ones then fail.
 * Returns whether the pair loaded.
 */
export async function loadPair(pairId: string | ModelPair): Promise<boolean> {
  const pair = typeof pairId === 'string' ? findPair(pairId) : pairId;
  if (!pair) {
    setState({ pairNotice: { kind: 'error', title: 'Choose a model pair first.', advice: customPairProblem(getState().settings) ?? '' } });
    return false;
  }
  setState({ pairNotice: null });
  const before = getState().slots;
  const previous = lastPair;
  const held = ARCHS.filter((a) => before[a].status === 'ready');
  if (!held.length || !previous) {
    lastPair = pair;
    const r = await loadInPlace(pair);
    fitChoice();
    await refreshMemory();
    if (!r.ok && !r.cancelled) setState({ pairNotice: failureNotice(r, pair.label, '') });
    return r.ok;
  }
  const c = need();
  const staged: Arch[] = [];
  let failed: SlotResult | null = null;
  let failedEntry: RegistryEntry = pair.entries[0];
  for (const [slot, entry] of pairSlots(pair)) {
    const r = await loadSlot(slot, entry, pair.id, true);
    if (!r.ok) {
      failed = r;
      failedEntry = entry;
      break;
    }
    staged.push(slot);
  }
  if (!failed) {
    await c.request({ type: 'commit', slots: staged }, ['done']);
    setState((s) => ({ slots: { ...s.slots, ...Object.fromEntries(staged.map((a) => [a, { ...s.slots[a], status: 'ready', previous: undefined }])) } }));
    await unloadOthers(pair);
    lastPair = pair;
    fitChoice();
    await refreshMemory();
    return true;
  }
  await c.request({ type: 'discard', slots: pairSlots(pair).map(([slot]) => slot) }, ['done']);
  restoreSlots(before);
  if (failed.cancelled) {
    setState({ pairNotice: { kind: 'info', title: 'Loading cancelled.', advice: `${previous.label} is still loaded.` } });
    await refreshMemory();
    return false;
  }
  if (failed.error?.code !== 'out-of-memory') {
    setState({ pairNotice: failureNotice(failed, failedEntry.repo, `Nothing was changed: ${previous.label} is still loaded.`) });
    await refreshMemory();
    return false;
  }
  // Not enough GPU memory for both at once: free the previous models, then load the new ones on their own.
  await unloadAll();
  lastPair = pair;
  const r = await loadInPlace(pair);
  if (r.ok) {
    fitChoice();
    await refreshMemory();
    return true;
  }
  await unloadAll();
  lastPair = previous;
  await loadInPlace(previous);
  await refreshMemory();
  setState({ pairNotice: failureNotice(r.cancelled ? { ok: false, error: { code: 'out-of-memory', message: 'cancelled' } } : r, failedEntry.repo, `${previous.label} was loaded again.`) });
  return false;
}

/** Sizes and checks a pair before anything large is downloaded: each model's config.json (a supported architecture
 *  in the right slot), the download size, and whether its files are cached already. */
export async function checkPair(pairId: string): Promise<{ ok: true; checks: Partial<Record<Arch, ModelCheck>> } | { ok: false; notice: PairNotice }> {
  const pair = findPair(pairId);
  if (!pair) return { ok: false, notice: { kind: 'error', title: 'Choose a model pair first.', advice: customPairProblem(getState().settings) ?? '' } };
  const hub = getState().settings.hub;
  const out: Partial<Record<Arch, ModelCheck>> = {};
  for (const [slot, entry] of pairSlots(pair)) {
    try {
      out[slot] = await inspectModel(sourceFor(entry, hub), slot);
    } catch (e) {
      const f = explainLoadError(e as { code?: string; status?: number; message?: string; name?: string }, { what: entry.repo, hub, online: navigator.onLine });
      const keep = activeSlots(getState()).length ? ' Nothing was changed: the loaded models stay.' : '';
      return { ok: false, notice: { kind: 'error', title: f.title, advice: `${f.advice}${keep}`, detail: f.detail } };
    }
  }
  return { ok: true, checks: out };
}

export function cancelLoad(): void {
  for (const id of loadJobs.values()) client?.cancel(id);
}

export async function unloadAll(): Promise<void> {
  const c = need();
  for (const slot of ARCHS) {
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
  if (!ARCHS.some((a) => s.slots[a].status === 'ready')) return {};
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

/** The settings a run starts with (these keys, the architecture choice and the kernels), to label its results. */
function runMeta(settingsKeys: (keyof Settings)[]): RunMeta {
  const s = getState().settings;
  const settings: Record<string, unknown> = {};
  for (const k of [...settingsKeys, 'arch', 'scan', 'attn'] as (keyof Settings)[]) settings[k] = s[k];
  const models: RunMeta['models'] = {};
  for (const a of activeSlots(getState())) models[a] = getState().slots[a].info!.name;
  return { startedAt: new Date().toISOString(), settings: settings as Partial<Settings>, models };
}

/** Records a finished run with the settings it started with (its meta: the kernels it ran among them). */
function record(kind: RunKind, startedAt: Date, job: JobState, data: unknown, meta: RunMeta): void {
  const s = getState();
  const settings = { ...meta.settings };
  const models: Partial<Record<Arch, NonNullable<AppState['slots']['mamba']['info']>>> = {};
  for (const a of ARCHS) if (s.slots[a].info) models[a] = s.slots[a].info;
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
  const meta = runMeta(GENERATE_KEYS);
  const outputs = Object.fromEntries(slots.map((a) => [a, { promptTokens: 0, text: '', tokens: [], done: false }]));
  patchJob('compare', { outputs, prompt: s.prompt, meta });
  const batch = frameBatcher<WorkerEvent>((events) =>
    setState((st) => {
      const out = { ...st.compare.outputs };
      for (const e of events) {
        if (e.type === 'gen-start') out[e.slot] = { ...out[e.slot]!, promptTokens: e.promptTokens, startedAt: performance.now() };
        else if (e.type === 'gen-prefill') out[e.slot] = { ...out[e.slot]!, prefill: { done: e.done, total: e.total, ms: e.ms } };
        else if (e.type === 'gen-tokens') {
          const o = out[e.slot]!;
          out[e.slot] = { ...o, text: o.text + e.text, tokens: [...o.tokens, ...e.ids.map((_, i) => ({ index: e.index + i, ms: e.msEach }))] };
        } else if (e.type === 'gen-stats') out[e.slot] = { ...out[e.slot]!, stats: e.stats, memory: e.memory, text: e.text, trace: e.trace, kernels: e.kernels, done: true };
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
  record('generate', started, job, { prompt: s.prompt, outputs: getState().compare.outputs }, meta);
}

const GENERATE_KEYS: (keyof Settings)[] = ['prompt', 'maxNew', 'temperature', 'topK', 'topP', 'seed', 'mode', 'batch'];
const SWEEP_KEYS: (keyof Settings)[] = ['sweepMin', 'sweepMax', 'sweepFactor', 'sweepDecode', 'sweepRepeats', 'seed', 'memCap'];
const RECALL_KEYS: (keyof Settings)[] = ['probes', 'lengths', 'depths', 'trials', 'keys', 'seed', 'doc'];

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
  const meta = runMeta(SWEEP_KEYS);
  patchJob('sweep', { points: [], limits: [], meta });
  const job = await runJob('sweep', { type: 'sweep', params: { slots, lengths, decodeTokens: s.sweepDecode, repeats: s.sweepRepeats, seed: s.seed, kernels: runKernels(s) } }, (e) => {
    if (e.type === 'sweep-point') setState((st) => ({ sweep: { ...st.sweep, points: [...st.sweep.points, e.point] } }));
    else if (e.type === 'limit') setState((st) => ({ sweep: { ...st.sweep, limits: [...st.sweep.limits, limitNote(e)] } }));
  });
  const st = getState().sweep;
  record('sweep', started, job, { lengths, points: st.points, limits: st.limits }, meta);
}

export async function runRecall(): Promise<void> {
  const slots = slotsOrToast();
  if (!slots) return;
  const s = getState();
  const started = new Date();
  const p = s.settings;
  const meta = runMeta(RECALL_KEYS);
  patchJob('recall', { points: [], curves: [], limits: [], skips: [], meta });
  const job = await runJob(
    'recall',
    // multikey's facts fall at random depths: a (length, K) cell runs `trials` probes, whatever the depths
    { type: 'recall', params: { slots, probes: p.probes, document: s.document.text, lengths: p.lengths, depths: p.depths, trials: p.trials, seed: p.seed, keys: p.keys, keyTrials: p.trials, kernels: runKernels(p) } },
    (e) => {
      if (e.type === 'recall-point') setState((st) => ({ recall: { ...st.recall, points: [...st.recall.points, e.point] } }));
      else if (e.type === 'recall-skip') setState((st) => ({ recall: { ...st.recall, skips: [...st.recall.skips, e.skip] } }));
      else if (e.type === 'loss-curve') setState((st) => ({ recall: { ...st.recall, curves: [...st.recall.curves, e.curve] } }));
      else if (e.type === 'limit') setState((st) => ({ recall: { ...st.recall, limits: [...st.recall.limits, limitNote(e)] } }));
    },
  );
  const r = getState().recall;
  record('recall', started, job, { document: { source: s.document.source, chars: s.document.text.length }, points: r.points, lossCurves: r.curves, limits: r.limits, skips: r.skips }, meta);
}

/** Claims: 'scaling' runs a context sweep (prefill, memory, decode, crossover); 'recall' runs passkey and multikey probes. */
export async function runClaims(which: 'scaling' | 'recall' | 'all'): Promise<void> {
  const slots = activeSlots(getState());
  if (slots.length < 2) {
    toast('The claims compare the architectures: load two or three models and choose them all ("Both" / "All three").', 'error');
    return;
  }
  const started = new Date();
  const s = getState();
  const p = s.settings;
  const sweep: SweepPoint[] = which === 'recall' ? s.claims.sweep : [];
  const recall: RecallPoint[] = which === 'scaling' ? s.claims.recall : [];
  const meta = runMeta([...SWEEP_KEYS, 'lengths', 'depths', 'trials', 'keys', 'doc']);
  // the claims' sweep always decodes (the decode claim needs it)
  meta.settings.sweepDecode = Math.max(4, p.sweepDecode);
  patchJob('claims', { sweep, recall, limits: [], skips: [], which });
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
  patchJob('claims', { which: null });
  record('claims', started, job, { which, sweep: c.sweep, recall: c.recall, limits: c.limits, skips: c.skips }, meta);
}

export async function runSelectivity(length: number, depth: number): Promise<void> {
  const slots = slotsOrToast();
  if (!slots) return;
  const s = getState();
  const started = new Date();
  const meta = runMeta(['seed', 'doc']);
  patchJob('selectivity', { results: [] });
  const job = await runJob('selectivity', { type: 'diagnostics', params: { slots, document: s.document.text, length, depth, seed: s.settings.seed, kernels: runKernels(s.settings) } }, (e) => {
    if (e.type === 'selectivity') setState((st) => ({ selectivity: { ...st.selectivity, results: [...st.selectivity.results, e.result] } }));
  });
  record('selectivity', started, job, { length, depth, results: getState().selectivity.results }, meta);
}

export type { LossCurve };
