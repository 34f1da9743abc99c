/**
 * What the worker, the CLI and the benchmarks need from a language model, whatever its architecture. MambaModel
 * (src/models/mamba.ts), Mamba2Model (src/models/mamba2.ts) and GptNeoxModel (src/models/gptneox.ts) implement it.
 */
import type { GpuContext } from '../gpu/context';
import type { KernelChoice } from './kernel-choice';

/** A model's architecture, and the page's slot for it: one loaded model per architecture. */
export type Arch = 'mamba' | 'mamba2' | 'transformer';
/** The architectures in the order the page shows them (Mamba, Mamba-2, the Transformer). */
export const ARCHS: readonly Arch[] = ['mamba', 'mamba2', 'transformer'];
/** The recurrent ones (a fixed-size state instead of a KV cache). */
export const RECURRENT: readonly Arch[] = ['mamba', 'mamba2'];
/** Same as Arch (the name model files use for their own architecture). */
export type ModelArch = Arch;
export type { AttentionVariant, KernelChoice, ScanVariant } from './kernel-choice';

/** Bytes on the GPU by role. `state` is the SSM state + conv state (Mamba) or the KV cache (Transformer). */
export interface ModelMemory {
  weights: number;
  kvCache: number;
  ssmState: number;
  activations: number;
  scratch: number;
}

export interface SamplingOptions {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  seed: number;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Token ids that end generation (EOS). */
  stopIds?: number[];
  /** Strings that end generation once the decoded text contains them. */
  stopStrings?: string[];
  signal?: AbortSignal;
}

export interface TokenEvent {
  id: number;
  /** Index of the generated token (0 = first). */
  index: number;
  /** Milliseconds this token took (for index 0: prefill + first sample = time to first token). */
  ms: number;
}

export interface GenerateStats {
  promptTokens: number;
  newTokens: number;
  prefillMs: number;
  /** Decode time for tokens after the first, in ms. */
  decodeMs: number;
  prefillTokPerS: number;
  decodeTokPerS: number;
  ttftMs: number;
  stopReason: 'length' | 'eos' | 'stop-string' | 'aborted' | 'context';
}

/** How a prefill() ran: long prompts go through the layers in passes sized from the device (src/models/base.ts). */
export interface PrefillInfo {
  tokens: number;
  passes: number;
  /** Tokens in the longest pass. */
  passTokens: number;
  /** Activation bytes the model held during its longest pass (memoryHeld(); after a prefill whose passes were longer
   *  than the 1024-token floor they are released; memory() keeps counting what the pass needed). */
  activationBytes: number;
}

export interface LanguageModel {
  readonly arch: ModelArch;
  readonly name: string;
  /** The GPU context its buffers live on (error scopes, the buffer pool). */
  readonly ctx: GpuContext;
  readonly vocabSize: number;
  /** Largest context the model + device can take (positions for GPT-NeoX; device limits for both). */
  readonly maxContext: number;
  /** The prefill kernels the next forward passes use; an experiment sets it from its run's parameters. */
  kernels: KernelChoice;

  /** Clears the recurrent state / KV cache: the next prefill starts a new sequence. */
  reset(): void;
  /** Runs `ids` after what is already in the state/cache; returns logits [ids.length, V] if allLogits else [V] of the last. */
  prefill(ids: number[], opts?: { allLogits?: boolean; onProgress?: (done: number, total: number) => void; signal?: AbortSignal }): Promise<Float32Array>;
  /** One token after the current state; returns logits [V]. */
  step(id: number): Promise<Float32Array>;
  /** How the last prefill ran (null before any). */
  readonly lastPrefill: PrefillInfo | null;
  /** Decode steps per submit it prefers (k). */
  stepsPerSubmit: number;
  /** Decodes n tokens, sampling on the GPU, in one submit and one readback; first ≥ 0 is fed first, −1 continues from
   *  the token the previous batch sampled last. */
  decodeBatch(first: number, n: number, sampling?: SamplingOptions): Promise<Uint32Array>;
  /** Prompt then sampled tokens, streamed through onToken; state is reset first. */
  generate(ids: number[], opts: GenerateOptions, onToken?: (e: TokenEvent) => void): Promise<{ ids: number[]; stats: GenerateStats }>;
  /** Bytes the current sequence needs (since reset()): KV cache for its tokens, state, its activations; the same on a
   *  fresh page and after any history. */
  memory(): ModelMemory;
  /** Bytes of the buffers the model holds now, including capacity kept from earlier, longer runs for reuse. */
  memoryHeld(): ModelMemory;
  /** Per-token diagnostics for the selectivity view (state is reset first): Mamba's mean Δ per token per layer, or
   *  the attention weights from the last position to every token per layer. */
  diagnostics(ids: number[]): Promise<ModelDiagnostics>;
  dispose(): void;
}

/**
 * What diagnostics(ids) returns for the selectivity view:
 * Mamba: kind 'delta', per layer the step size Δ = softplus(dt_proj(·) + bias) averaged over channels, per token.
 * Transformer: kind 'attention', per layer the attention weights from the last position to every token, averaged
 * over heads (each layer's row sums to 1).
 */
export interface ModelDiagnostics {
  kind: 'delta' | 'attention';
  /** [layer][token], ids.length tokens per layer. */
  layers: Float32Array[];
}
