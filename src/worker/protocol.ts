/**
 * Typed messages between the UI thread and the GPU worker. Every request carries an id; the worker answers with
 * events tagged with the same id (progress, partial results) and exactly one final event (`done`, a request-specific
 * result, or `error`). `cancel` aborts a running request: it then ends with `done` and `cancelled: true`.
 * Events with id 0 are not answers: `device-lost` is broadcast when the GPU device goes away.
 *
 * GPU jobs (load, generate, sweep, recall, diagnostics) run one at a time in arrival order; `cancel`, `memory`,
 * `tokenize` and `kernels` are answered at once.
 */
import type { Arch, GenerateStats, KernelChoice, ModelMemory } from '../models/types';
import type { ModelSource } from '../hub/hub';
import type { LossCurve, ProbeKind, ProbeSkip, RecallPoint, SweepPoint } from '../recall/types';

export type { LossCurve, ProbeKind, ProbeSkip, RecallPoint, SweepPoint };

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
  vocabSize: number;
  maxContext: number;
  kernels: KernelChoice;
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
}

/** How a model's generate ran: decode batches and the GPU → CPU readbacks of each phase (counted in the worker). */
export interface GenerateTrace {
  /** Tokens per decode batch (k). */
  batch: number;
  /** Decode batches after the first token. */
  batches: number;
  /** prefill: the prompt before its last token; first: the first token; decode: every token after it. */
  readbacks: { prefill: number; first: number; decode: number };
}

export interface SweepParams {
  slots: Arch[];
  /** Context lengths in tokens, ascending. */
  lengths: number[];
  /** Decode steps measured after each prefill (0 = prefill only). */
  decodeTokens: number;
  /** Prefill repeats per point (the fastest is kept). */
  repeats: number;
  seed: number;
}

export interface RecallParams {
  slots: Arch[];
  probes: ProbeKind[];
  /** The document text (pasted or bundled); tiled when shorter than a length. */
  document: string;
  lengths: number[];
  /** 0 = start of the document, 1 = end. */
  depths: number[];
  trials: number;
  seed: number;
  /** multikey: the numbers of facts K; each (length, K) cell runs keyTrials probes (default depths × trials). */
  keys?: number[];
  /** multikey probes per (length, K) cell (its facts fall at random depths, so `depths` does not place them). */
  keyTrials?: number;
}

export interface DiagnosticsParams {
  slots: Arch[];
  document: string;
  length: number;
  depth: number;
  seed: number;
}

/** What a model's diagnostics(ids) returns (src/models/types.ts). */
export type { ModelDiagnostics } from '../models/types';

export interface SelectivityResult {
  slot: Arch;
  kind: 'delta' | 'attention';
  /** Decoded text of each token. */
  tokens: string[];
  /** [layer][token] */
  layers: number[][];
  needle: [number, number];
  questionStart: number;
  key: string;
}

export type WorkerRequest =
  | { id: number; type: 'init' }
  | { id: number; type: 'selftest'; n: number }
  /** stage: load beside the model in the slot (which stays usable) until `commit` swaps it in or `discard` drops it. */
  | { id: number; type: 'load'; slot: Arch; source: ModelSource; stage?: boolean }
  | { id: number; type: 'commit'; slots: Arch[] }
  | { id: number; type: 'discard'; slots: Arch[] }
  | { id: number; type: 'unload'; slot: Arch }
  | { id: number; type: 'kernels'; kernels: KernelChoice }
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

export type WorkerEvent =
  | { id: number; type: 'ready'; info: GpuInfo }
  | { id: number; type: 'selftest-result'; n: number; maxAbsError: number; sample: number[] }
  | { id: number; type: 'load-progress'; progress: LoadProgress }
  | { id: number; type: 'loaded'; info: ModelInfo }
  | { id: number; type: 'tokens'; counts: Partial<Record<Arch, number>> }
  | { id: number; type: 'memory-report'; report: MemoryReport }
  | { id: number; type: 'gen-start'; slot: Arch; promptTokens: number }
  /** Prefill progress of a model in Compare: prompt tokens done of the total, ms since it started; after each chunk. */
  | { id: number; type: 'gen-prefill'; slot: Arch; done: number; total: number; ms: number }
  /**
   * Generated tokens as a batch lands: `ids` from token `index` on, `text` the text they add (a multi-byte character
   * split across batches shows with the later one; the last event of a stream may carry only text), `msEach` each
   * token's share of the batch's time (for index 0: time to first token).
   */
  | { id: number; type: 'gen-tokens'; slot: Arch; ids: number[]; index: number; text: string; msEach: number }
  | { id: number; type: 'gen-stats'; slot: Arch; stats: GenerateStats; memory: ModelMemory; text: string; trace: GenerateTrace }
  | { id: number; type: 'progress'; done: number; total: number; label: string }
  | { id: number; type: 'sweep-point'; point: SweepPoint }
  | { id: number; type: 'recall-point'; point: RecallPoint }
  | { id: number; type: 'loss-curve'; curve: LossCurve }
  /** A probe cell that was not run (e.g. K facts do not fit in the length); the run goes on. */
  | { id: number; type: 'recall-skip'; skip: ProbeSkip }
  /** A model stopped early in a sweep/recall run: out of memory, a device limit, or its context limit. */
  | { id: number; type: 'limit'; slot: Arch; length: number; lastOk: number | null; reason: string; message: string }
  | { id: number; type: 'selectivity'; result: SelectivityResult }
  | { id: number; type: 'done'; cancelled: boolean }
  | { id: number; type: 'device-lost'; message: string }
  /** status: the HTTP status of a failed download, when there was one. */
  | { id: number; type: 'error'; code: string; message: string; status?: number };
