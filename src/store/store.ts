/** App state (zustand): GPU status, model slots, each tool's live results, and the log of finished runs for export. */
import { create } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import type { Arch, GenerateStats, ModelMemory } from '../models/types';
import type { GenerateTrace, GpuInfo, LoadProgress, MemoryReport, ModelInfo, SelectivityResult } from '../worker/protocol';
import type { LossCurve, RecallPoint, SweepPoint } from '../recall/types';
import { DEFAULT_SETTINGS, type Settings } from './url';
import type { ProbeSkip } from '../recall/types';
import type { Calibration } from '../roofline/calibrate';
import type { MeasuredRooflines } from '../roofline/meter';

export type GpuStatus =
  | { kind: 'starting' }
  | { kind: 'no-webgpu'; message: string }
  | { kind: 'ready'; info: GpuInfo; selftest: { ok: boolean; maxAbsError: number } }
  | { kind: 'lost'; message: string; info?: GpuInfo }
  | { kind: 'error'; message: string };

export interface SlotState {
  status: 'empty' | 'loading' | 'ready' | 'error';
  progress?: LoadProgress;
  info?: ModelInfo;
  error?: string;
  /** Which pair / source the slot holds or is loading. */
  sourceId?: string;
}

export interface StreamOutput {
  promptTokens: number;
  text: string;
  tokens: { index: number; ms: number }[];
  stats?: GenerateStats;
  /** Decode batches and GPU readbacks of the run. */
  trace?: GenerateTrace;
  memory?: ModelMemory;
  /** What bounded this model's prefill and decode (after the run). */
  roofline?: MeasuredRooflines | null;
  done: boolean;
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
  memory: MemoryReport | null;
  compare: JobState & { outputs: Partial<Record<Arch, StreamOutput>>; prompt: string };
  sweep: JobState & { points: SweepPoint[]; limits: LimitNote[] };
  recall: JobState & { points: RecallPoint[]; curves: LossCurve[]; limits: LimitNote[]; skips: ProbeSkip[] };
  claims: JobState & { sweep: SweepPoint[]; recall: RecallPoint[]; limits: LimitNote[]; skips: ProbeSkip[]; stage: string | null };
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
  slots: { mamba: emptySlot, transformer: emptySlot },
  memory: null,
  compare: { ...idleJob, outputs: {}, prompt: '' },
  sweep: { ...idleJob, points: [], limits: [] },
  recall: { ...idleJob, points: [], curves: [], limits: [], skips: [] },
  claims: { ...idleJob, sweep: [], recall: [], limits: [], skips: [], stage: null },
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

/** Models the current architecture choice runs, among those loaded. */
export function activeSlots(s: AppState): Arch[] {
  const want: Arch[] = s.settings.arch === 'both' ? ['mamba', 'transformer'] : [s.settings.arch];
  return want.filter((a) => s.slots[a].status === 'ready');
}

/** activeSlots() as a React hook (shallow-compared, so components re-render only when the list changes). */
export function useActiveSlots(): Arch[] {
  return useStore(useShallow(activeSlots));
}
