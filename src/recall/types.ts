/** Result records shared by the worker, the recall/claims logic and the UI. Plain data: they go through postMessage and JSON export. */
import type { KernelChoice } from '../models/kernel-choice';
import type { Arch, ModelMemory } from '../models/types';
import type { MeasuredRooflines } from '../roofline/meter';

/** Turns text into token ids and back; the worker adapts the model's tokenizer to this. */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
}

export interface SweepPoint {
  arch: Arch;
  /** Context length in tokens (prompt length of the prefill). */
  length: number;
  prefillMs: number;
  prefillTokPerS: number;
  /** Milliseconds per decoded token after the prefill (mean over the decode steps); null when decode was skipped. */
  decodeMsPerToken: number | null;
  decodeTokPerS: number | null;
  /** Model memory after the prefill and decode (weights, KV cache / SSM state, activations, scratch); activations:
   *  what the prefill held at most. */
  memory: ModelMemory;
  /** Bytes that hold the sequence: KV cache (Transformer) or SSM + conv state (Mamba). */
  stateBytes: number;
  totalBytes: number;
  /** Tokens in the prefill's longest pass (prefills run in passes sized from the device, src/models/base.ts). */
  prefillPass: number;
  /** The kernels that produced it (the run's choice). */
  kernels: KernelChoice;
  /** What bounds the prefill and the decode (src/roofline/): counts, floors, bound, gap; null without a calibration. */
  roofline?: MeasuredRooflines | null;
}

export type ProbeKind = 'passkey' | 'copy' | 'multikey' | 'loss';

export interface RecallPoint {
  arch: Arch;
  probe: 'passkey' | 'copy' | 'multikey';
  length: number;
  /** 0 = fact/span at the start of the document, 1 = at the end (next to the question). multikey: where the asked
   *  fact happened to fall (the facts' depths are random). */
  depth: number;
  /** multikey only: K, the number of key-value facts in the document. */
  keys?: number;
  trial: number;
  /** 0..1: passkey / multikey exact match (0/1); copy: fraction of continuation tokens matched exactly. */
  score: number;
  correct: boolean;
  expected: string;
  output: string;
  ms: number;
  /** The kernels that produced it (the run's choice). */
  kernels: KernelChoice;
}

/** A probe cell that was not run, and why (e.g. K facts and the question do not fit in the length). */
export interface ProbeSkip {
  arch: Arch;
  probe: 'multikey';
  length: number;
  /** multikey: K. */
  keys: number;
  message: string;
}

export interface LossCurve {
  arch: Arch;
  length: number;
  /** Per-position negative log-likelihood (nats) of token t+1 given tokens 0..t; length = tokens - 1. */
  losses: number[];
  meanLoss: number;
  /** The kernels that produced it (the run's choice). */
  kernels: KernelChoice;
}
