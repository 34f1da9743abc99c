/**
 * What the experiments (./generate, ./sweep, ./recall, ./diagnostics) take and give: the loaded models by slot, and
 * the events they emit as results are measured. Plain data: the worker forwards each event with its request id
 * (src/worker/protocol.ts), the CLIs and tests collect them.
 */
import type { TextTokenizer } from '../hub/tokenizer';
import type { KernelChoice } from '../models/kernel-choice';
import type { Arch, GenerateStats, LanguageModel, ModelMemory } from '../models/types';
import type { LossCurve, ProbeSkip, RecallPoint, SweepPoint } from '../recall/types';
import type { MeasuredRooflines } from '../roofline/meter';

/** A model with its tokenizer, as src/models/load.ts returns it. */
export type TokenizedModel = LanguageModel & { tokenizer: TextTokenizer; config?: { eosTokenId?: number | null } };

/** The loaded models by slot; each experiment runs the slots its parameters name. */
export type Models<M extends LanguageModel = TokenizedModel> = Partial<Record<Arch, M>>;

/** How a model's generate ran: decode batches and the GPU → CPU readbacks of each phase (when counted). */
export interface GenerateTrace {
  /** Tokens per decode batch (k). */
  batch: number;
  /** Decode batches after the first token. */
  batches: number;
  /** prefill: the prompt before its last token; first: the first token; decode: every token after it. Null when no
   *  ReadbackCounter watches the device (./readbacks). */
  readbacks: { prefill: number; first: number; decode: number } | null;
}

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
  /** The kernels that produced it. */
  kernels: KernelChoice;
}

/** A model stopped early in a sweep / recall run: out of memory, a device limit, its context limit. */
export interface LimitEvent {
  type: 'limit';
  slot: Arch;
  length: number;
  /** The largest length that fit before, or null. */
  lastOk: number | null;
  /** 'out-of-memory', 'limit-exceeded', 'range' or 'context'. */
  reason: string;
  message: string;
}

export type EngineEvent =
  | { type: 'gen-start'; slot: Arch; promptTokens: number }
  /** Prefill progress: prompt tokens done of the total, ms since the model started; after each pass (./generation). */
  | { type: 'gen-prefill'; slot: Arch; done: number; total: number; ms: number }
  /**
   * Generated tokens as a batch lands: `ids` from token `index` on, `text` the text they add (a multi-byte character
   * split across batches shows with the later one; the last event of a stream may carry only text), `msEach` each
   * token's share of the batch's time (for index 0: time to first token).
   */
  | { type: 'gen-tokens'; slot: Arch; ids: number[]; index: number; text: string; msEach: number }
  | { type: 'gen-stats'; slot: Arch; stats: GenerateStats; memory: ModelMemory; text: string; trace: GenerateTrace; kernels: KernelChoice }
  /** After a model's gen-stats: what bounded its prefill and decode (src/roofline/), null without a calibration. */
  | { type: 'gen-roofline'; slot: Arch; roofline: MeasuredRooflines | null }
  | { type: 'progress'; done: number; total: number; label: string }
  | { type: 'sweep-point'; point: SweepPoint }
  | { type: 'recall-point'; point: RecallPoint }
  | { type: 'loss-curve'; curve: LossCurve }
  /** A probe cell that was not run (e.g. K facts do not fit in the length); the run goes on. */
  | { type: 'recall-skip'; skip: ProbeSkip }
  | LimitEvent
  | { type: 'selectivity'; result: SelectivityResult };

export type Emit = (e: EngineEvent) => void;

/** How an experiment ended: finished, or stopped by its AbortSignal (what was emitted before stays valid). */
export interface RunEnd {
  cancelled: boolean;
}
