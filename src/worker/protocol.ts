/**
 * Typed messages between the UI thread and the GPU worker. Every request carries an id; the worker answers with
 * events tagged with the same id (progress, partial results) and exactly one final event (`done`, a request-specific
 * result, or `error`). `cancel` aborts a running request: it then ends with `done` and `cancelled: true`.
 * Events with id 0 are not answers: `device-lost` is broadcast when the GPU device goes away.
 *
 * GPU jobs (load, generate, sweep, recall, diagnostics) run one at a time in arrival order; `cancel`, `memory` and
 * `tokenize` are answered at once. The run requests' parameters and the events they stream are the engine's
 * (src/engine): each run names the kernels it uses (`params.kernels`) and every result records them.
 */
import type { Arch, ModelMemory } from '../models/types';
import type { ModelSource } from '../hub/hub';
import type { EngineEvent, GenerateTrace, LimitEvent, SelectivityResult } from '../engine/events';
import type { GenerateParams } from '../engine/generate';
import type { SweepParams } from '../engine/sweep';
import type { RecallParams } from '../engine/recall';
import type { DiagnosticsParams } from '../engine/diagnostics';
import type { LossCurve, ProbeKind, ProbeSkip, RecallPoint, SweepPoint } from '../recall/types';
import type { Calibration } from '../roofline/calibrate';

export type { LossCurve, ProbeKind, ProbeSkip, RecallPoint, SweepPoint };
export type { DiagnosticsParams, EngineEvent, GenerateParams, GenerateTrace, LimitEvent, RecallParams, SelectivityResult, SweepParams };
export type { KernelChoice } from '../models/kernel-choice';
/** What a model's diagnostics(ids) returns (src/models/types.ts). */
export type { ModelDiagnostics } from '../models/types';

export interface GpuInfo {
  vendor: string;
  architecture: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
}

export interface ModelInfo {
  arch: Arch;
  name: string;
  /** Where it came from (repo id or static folder), for display. */
  source: string;
  /** The repo the tokenizer came from when the model's repo has none (state-spaces/* → EleutherAI/gpt-neox-20b). */
  tokenizerFrom?: string | null;
  /** The weight files read, e.g. ['pytorch_model.bin'], and their format. */
  weights?: { format: 'safetensors' | 'pytorch'; files: string[] };
  vocabSize: number;
  maxContext: number;
  /** Bytes the model needs with no sequence (weights, state). */
  memory: ModelMemory;
  /** The longest context the model was trained on, where its config records it (GPT-NeoX max_position_embeddings);
   *  null when it does not (Mamba configs). */
  trainedContext: number | null;
  eosId: number | null;
  loadMs: number;
  /** Every file came from the browser cache (a cached reopen). */
  fromCache: boolean;
}

export interface LoadProgress {
  slot: Arch;
  /** Current file, or a phase such as 'weights → GPU'. */
  file: string;
  /** Bytes so far over all files (when known). */
  loaded: number;
  total: number | null;
  fromCache: boolean;
}

export type WorkerRequest =
  | { id: number; type: 'init' }
  | { id: number; type: 'selftest'; n: number }
  /** Measures the adapter's rates for the rooflines (src/roofline/calibrate.ts), once; queued like a GPU job. */
  | { id: number; type: 'calibrate' }
  /** stage: load beside the model in the slot (which stays loaded) until `commit` swaps it in or `discard` drops it. */
  | { id: number; type: 'load'; slot: Arch; source: ModelSource; stage?: boolean }
  | { id: number; type: 'commit'; slots: Arch[] }
  | { id: number; type: 'discard'; slots: Arch[] }
  | { id: number; type: 'unload'; slot: Arch }
  /** Makes the buffer pool act like a GPU with this many bytes (null: no cap); allocations past it fail as out of memory. */
  | { id: number; type: 'memory-cap'; bytes: number | null }
  | { id: number; type: 'tokenize'; text: string }
  | { id: number; type: 'memory' }
  | { id: number; type: 'generate'; params: GenerateParams }
  | { id: number; type: 'sweep'; params: SweepParams }
  | { id: number; type: 'recall'; params: RecallParams }
  | { id: number; type: 'diagnostics'; params: DiagnosticsParams }
  | { id: number; type: 'cancel'; target: number }
  /** Testing hook: destroys the device as a driver reset would, so the device-lost path can be exercised. */
  | { id: number; type: 'lose-device' };

export interface MemoryReport {
  /** What each model's current sequence needs (see LanguageModel.memory). */
  models: Partial<Record<Arch, ModelMemory>>;
  /** What each model's buffers hold now, including capacity kept for reuse from earlier, longer runs. */
  held?: Partial<Record<Arch, ModelMemory>>;
  /** Live bytes in the shared buffer pool by category, and cached free bytes. */
  pool: Record<string, number>;
}

/** An engine event as the worker forwards it: tagged with the request's id. */
export type Tagged<E> = E extends unknown ? E & { id: number } : never;

export type WorkerEvent =
  | { id: number; type: 'ready'; info: GpuInfo }
  | { id: number; type: 'selftest-result'; n: number; maxAbsError: number; sample: number[] }
  | { id: number; type: 'calibration'; calibration: Calibration }
  | { id: number; type: 'load-progress'; progress: LoadProgress }
  | { id: number; type: 'loaded'; info: ModelInfo }
  | { id: number; type: 'tokens'; counts: Partial<Record<Arch, number>> }
  | { id: number; type: 'memory-report'; report: MemoryReport }
  /** gen-start / gen-tokens / gen-stats, progress, sweep-point, recall-point, loss-curve, recall-skip, limit, selectivity */
  | Tagged<EngineEvent>
  | { id: number; type: 'done'; cancelled: boolean }
  | { id: number; type: 'device-lost'; message: string }
  /** status: the HTTP status of a failed download, when there was one. */
  | { id: number; type: 'error'; code: string; message: string; status?: number };
