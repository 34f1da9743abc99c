/** App state (zustand): GPU status, model slots (one per architecture: Mamba, Mamba-2, the Transformer), each tool's
 *  live results, and the log of finished runs for export. */
import { create } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import { ARCHS, type Arch, type GenerateStats, type ModelMemory } from '../models/types';
import type { KernelChoice } from '../models/kernel-choice';
import type { GenerateTrace, GpuInfo, LoadProgress, MemoryReport, ModelInfo, SelectivityResult } from '../worker/protocol';
import type { LossCurve, RecallPoint, SweepPoint } from '../recall/types';
import { choiceArchs, DEFAULT_SETTINGS, type Settings } from './url';
import type { ProbeSkip } from '../recall/types';
import type { Calibration } from '../roofline/calibrate';
import type { MeasuredRooflines } from '../roofline/meter';

export type GpuStatus =
  | { kind: 'starting' }
  | { kind: 'no-webgpu'; message: string }
  | { kind: 'ready'; info: GpuInfo; selftest: { ok: boolean; maxAbsError: number } }
  | { kind: 'lost'; message: string; info?: GpuInfo }
  | { kind: 'error'; message: string };

/** The model a slot holds, as the page shows it: the worker's info plus what the page knows about its training. */
export interface SlotModel extends ModelInfo {
  /** Where trainedContext comes from, for display (e.g. "max_position_embeddings"). */
  trainedContextSource?: string;
}

export interface SlotState {
  status: 'empty' | 'loading' | 'ready' | 'error';
  progress?: LoadProgress;
  info?: SlotModel;
  error?: string;
  /** The technical message behind `error` (shown folded under it). */
  errorDetail?: string;
  /** Which pair / source the slot holds or is loading. */
  sourceId?: string;
  /** While a new model loads beside it: the model still in the slot (it stays if the new one fails). */
  previous?: SlotModel;
}

/** A message about the model pair or set (a failed load, an unknown ?pair=), in words for users. */
export interface PairNotice {
  kind: 'error' | 'warn' | 'info';
  title: string;
  advice?: string;
  detail?: string;
}

/** The settings a run started with (kernels, lengths, sampling, …), to label its results. */
export interface RunMeta {
  startedAt: string;
  settings: Partial<Settings>;
  /** The models it ran on (their names). */
  models: Partial<Record<Arch, string>>;
}

export interface StreamOutput {
  promptTokens: number;
  text: string;
  tokens: { index: number; ms: number }[];
  stats?: GenerateStats;
  /** Decode batches and GPU readbacks of the run. */
  trace?: GenerateTrace;
  /** The kernels that produced it, as the run recorded them. */
  kernels?: KernelChoice;
  memory?: ModelMemory;
  /** What bounded this model's prefill and decode (after the run). */
  roofline?: MeasuredRooflines | null;
  done: boolean;
  /** Prefill progress (prompt tokens done of the total, ms since the model started), until the first token. */
  prefill?: { done: number; total: number; ms: number };
  /** performance.now() on the page when the model started (its prefill). */
  startedAt?: number;
}

export interface LimitNote {
  slot: Arch;
  length: number;
  lastOk: number | null;
  reason: string;
  message: string;
}

export interface JobProgress {
  done: number;
  total: number;
  label: string;
}

export interface JobState {
  running: boolean;
  jobId: number | null;
  progress: JobProgress | null;
  error: string | null;
  cancelled: boolean;
}

export const idleJob: JobState = { running: false, jobId: null, progress: null, error: null, cancelled: false };

export type RunKind = 'generate' | 'sweep' | 'recall' | 'claims' | 'selectivity';

/** One finished (or cancelled) run, as exported. */
export interface RunRecord {
  id: string;
  kind: RunKind;
  startedAt: string;
  finishedAt: string;
  cancelled: boolean;
  error: string | null;
  settings: Partial<Settings>;
  models: Partial<Record<Arch, ModelInfo>>;
  /** The adapter's calibration the run's rooflines divide by (src/roofline/calibrate.ts). */
  calibration?: Calibration | null;
  data: unknown;
}

export interface AppState {
  settings: Settings;
  gpu: GpuStatus;
  /** The adapter's measured rates (copy GB/s, dispatch µs, matmul GFLOP/s, timestamps): null until measured. */
  calibration: Calibration | null;
  slots: Record<Arch, SlotState>;
  pairNotice: PairNotice | null;
  memory: MemoryReport | null;
  compare: JobState & { outputs: Partial<Record<Arch, StreamOutput>>; prompt: string; meta: RunMeta | null };
  sweep: JobState & { points: SweepPoint[]; limits: LimitNote[]; meta: RunMeta | null };
  recall: JobState & { points: RecallPoint[]; curves: LossCurve[]; limits: LimitNote[]; skips: ProbeSkip[]; meta: RunMeta | null };
  claims: JobState & { sweep: SweepPoint[]; recall: RecallPoint[]; limits: LimitNote[]; skips: ProbeSkip[]; stage: string | null; which: 'scaling' | 'recall' | 'all' | null };
  selectivity: JobState & { results: SelectivityResult[] };
  document: { text: string; source: string; tokens: Partial<Record<Arch, number>> };
  runs: RunRecord[];
  toasts: { id: number; kind: 'info' | 'error'; text: string }[];
}

const emptySlot: SlotState = { status: 'empty' };

export const useStore = create<AppState>(() => ({
  settings: DEFAULT_SETTINGS,
  gpu: { kind: 'starting' },
  calibration: null,
  slots: { mamba: emptySlot, mamba2: emptySlot, transformer: emptySlot },
  pairNotice: null,
  memory: null,
  compare: { ...idleJob, outputs: {}, prompt: '', meta: null },
  sweep: { ...idleJob, points: [], limits: [], meta: null },
  recall: { ...idleJob, points: [], curves: [], limits: [], skips: [], meta: null },
  claims: { ...idleJob, sweep: [], recall: [], limits: [], skips: [], stage: null, which: null },
  selectivity: { ...idleJob, results: [] },
  document: { text: '', source: '', tokens: {} },
  runs: [],
  toasts: [],
}));

export const setState = useStore.setState;
export const getState = useStore.getState;

export function patchSettings(p: Partial<Settings>): void {
  setState((s) => ({ settings: { ...s.settings, ...p } }));
}

export function patchSlot(slot: Arch, p: Partial<SlotState>, replace = false): void {
  setState((s) => ({ slots: { ...s.slots, [slot]: replace ? { status: 'empty', ...p } : { ...s.slots[slot], ...p } } }));
}

let toastId = 1;
export function toast(text: string, kind: 'info' | 'error' = 'info', ms = 5000): void {
  const id = toastId++;
  setState((s) => ({ toasts: [...s.toasts, { id, kind, text }] }));
  setTimeout(() => setState((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) })), ms);
}

/** Models the current architecture choice runs, among those loaded (ARCHS order). */
export function activeSlots(s: AppState): Arch[] {
  return choiceArchs(s.settings.arch).filter((a) => s.slots[a].status === 'ready');
}

/** The slots in use: loaded, loading or failed (an empty slot is not shown), in ARCHS order. */
export function usedSlots(s: Pick<AppState, 'slots'>): Arch[] {
  return ARCHS.filter((a) => s.slots[a].status !== 'empty' || s.slots[a].error !== undefined);
}

/** activeSlots() as a React hook (shallow-compared, so components re-render only when the list changes). */
export function useActiveSlots(): Arch[] {
  return useStore(useShallow(activeSlots));
}
