/**
 * What both models share: the token history on the GPU, the logits buffer, and generate(): prefill the prompt, then
 * decode with the next token sampled on the GPU and written straight into the history buffer, so several decode
 * steps are encoded per submit with no readback in between (`stepsPerSubmit`).
 */
import type { GpuContext } from '../gpu/context';
import type { Ops } from './ops';
import type {
  Arch, GenerateOptions, GenerateStats, KernelChoice, LanguageModel, ModelDiagnostics, ModelMemory, SamplingOptions, TokenEvent,
} from './types';
import { view, type View } from './tensor';
import type { WeightStore } from './weights';
import type { Category } from '../gpu/pool';

const now = () => (globalThis.performance ?? Date).now();
const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1, seed: 0 };

export abstract class CausalLM implements LanguageModel {
  abstract readonly arch: Arch;
  abstract readonly vocabSize: number;
  abstract readonly maxContext: number;
  kernels: KernelChoice = { scan: 'fused', attention: 'flash' };
  /** Decode steps recorded per submit in generate() (one readback per batch). */
  stepsPerSubmit = 8;
  /** Longest chunk of tokens one prefill pass processes; longer prompts run as several chunks. */
  prefillChunk = 1024;

  /** Tokens consumed so far (the next token's position). */
  protected pos = 0;
  protected history: GPUBuffer | null = null;
  protected logits: GPUBuffer | null = null;
  private logitsRows = 0;

  protected constructor(
    readonly ctx: GpuContext,
    readonly ops: Ops,
    readonly weights: WeightStore,
    readonly name: string,
  ) {}

  /** Encodes the forward pass of `n` tokens whose ids are history[pos .. pos+n) and writes logits rows for the
   *  tokens selected by `logitRows` ('last' → 1 row, 'all' → n rows) into `logits`. Advances nothing. */
  protected abstract encodeForward(pass: GPUComputePassEncoder, n: number, pos: number, logitRows: 'last' | 'all', logits: View): void;
  /** Resets recurrent state / cache buffers (called by reset()). */
  protected abstract clearState(): void;
  /** Allocates, before a pass is recorded, whatever a pass of `rows` tokens ending at position `end` needs
   *  (activations, KV cache room). encodeForward itself never allocates: buffers freed while a pass is being
   *  recorded would break it. */
  protected abstract reserve(end: number, rows: number): void;

  /** Set only while diagnostics() runs: encodeForward also writes the selectivity values of each layer i at
   *  diag.buffer[i · diag.tokens + position] (Mamba: every token; Transformer: the last token's attention row). */
  protected diag: { buffer: GPUBuffer; tokens: number } | null = null;
  protected abstract readonly diagnosticsKind: ModelDiagnostics['kind'];
  protected abstract layerCount(): number;

  async diagnostics(ids: number[]): Promise<ModelDiagnostics> {
    const T = ids.length, n = this.layerCount();
    if (T === 0) throw new Error('diagnostics needs at least one token');
    this.checkContext(T);
    const buffer = this.alloc(n * T * 4, 'scratch', 'diagnostics');
    try {
      this.reset();
      this.diag = { buffer, tokens: T };
      await this.prefill(ids);
      this.diag = null;
      const all = await this.ctx.readF32(buffer, n * T);
      return { kind: this.diagnosticsKind, layers: Array.from({ length: n }, (_, i) => all.slice(i * T, (i + 1) * T)) };
    } finally {
      this.diag = null;
      this.free(buffer);
    }
  }

  /** Buffers this model allocated, by category (several models share one pool, so each counts its own). */
  private readonly own = new Map<GPUBuffer, Category>();

  protected alloc(bytes: number, category: Category, label: string): GPUBuffer {
    const b = this.ctx.buffer(bytes, category, `${this.name}.${label}`);
    this.own.set(b, category);
    return b;
  }

  /** Allocates several buffers, all or none: when one allocation fails (out of memory) the others are released
   *  before the error goes on, so a failed growth leaves nothing behind. */
  protected allocAll<K extends string>(specs: Record<K, [bytes: number, category: Category, label: string]>): Record<K, GPUBuffer> {
    const out: Partial<Record<K, GPUBuffer>> = {};
    try {
      for (const k of Object.keys(specs) as K[]) {
        const [bytes, category, label] = specs[k];
        out[k] = this.alloc(bytes, category, label);
      }
    } catch (e) {
      for (const b of Object.values(out) as GPUBuffer[]) this.free(b);
      throw e;
    }
    return out as Record<K, GPUBuffer>;
  }

  protected free(b: GPUBuffer | null | undefined): void {
    if (!b) return;
    this.own.delete(b);
    this.ctx.pool.release(b);
  }

  /** Zero-fills a buffer (states at reset). */
  protected zero(b: GPUBuffer): void {
    const enc = this.ctx.device.createCommandEncoder();
    enc.clearBuffer(b);
    this.ctx.submit(enc);
  }

  protected ensureHistory(): GPUBuffer {
    this.history ??= this.alloc((this.maxContext + 1) * 4, 'activations', 'history');
    return this.history;
  }

  protected ensureLogits(rows: number): View {
    if (!this.logits || this.logitsRows < rows) {
      this.free(this.logits);
      this.logits = null;
      this.logitsRows = 0;
      this.logits = this.alloc(Math.max(rows, 1) * this.vocabSize * 4, 'activations', 'logits');
      this.logitsRows = Math.max(rows, 1);
    }
    return view(this.logits, rows, this.vocabSize);
  }

  reset(): void {
    this.pos = 0;
    this.clearState();
  }

  protected checkContext(n: number): void {
    if (this.pos + n > this.maxContext) {
      throw new RangeError(`${this.name}: ${this.pos + n} tokens exceed this model's context limit of ${this.maxContext} on this device`);
    }
  }

  async prefill(ids: number[], opts: { allLogits?: boolean } = {}): Promise<Float32Array> {
    if (ids.length === 0) throw new Error('prefill needs at least one token');
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`token id ${id} outside the vocabulary [0, ${this.vocabSize})`);
    }
    this.checkContext(ids.length);
    const history = this.ensureHistory();
    this.ctx.device.queue.writeBuffer(history, this.pos * 4, new Uint32Array(ids));
    const V = this.vocabSize;
    const all = opts.allLogits === true;
    const out = new Float32Array((all ? ids.length : 1) * V);
    for (let start = 0; start < ids.length; start += this.prefillChunk) {
      const n = Math.min(this.prefillChunk, ids.length - start);
      const last = start + n === ids.length;
      const rows = all ? n : 1;
      const logits = this.ensureLogits(rows);
      this.reserve(this.pos + n, n);
      this.ctx.run((pass) => this.encodeForward(pass, n, this.pos, all ? 'all' : 'last', logits), `${this.name}.prefill`);
      this.pos += n;
      if (all) out.set(await this.ctx.readF32(logits.buffer, n * V), start * V);
      else if (last) out.set(await this.ctx.readF32(logits.buffer, V));
    }
    return out;
  }

  async step(id: number): Promise<Float32Array> {
    return this.prefill([id]);
  }

  /** Encodes one decode step: forward of history[pos], then samples history[pos+1] on the GPU. */
  private sampleStep = 0;

  private encodeDecodeStep(pass: GPUComputePassEncoder, s: SamplingOptions, step: number): void {
    const logits = this.ensureLogits(1);
    this.encodeForward(pass, 1, this.pos, 'last', logits);
    this.ops.sample(pass, logits, this.ensureHistory(), this.pos + 1, s, step);
    this.pos += 1;
  }

  /** Decodes `n` tokens after the current state, sampling on the GPU, in one submit and one readback. `first` ≥ 0
   *  is fed first (written at history[pos]); −1 feeds the token already there (the previous batch's last sample). */
  async decodeBatch(first: number, n: number, s: SamplingOptions = GREEDY): Promise<Uint32Array> {
    if (this.pos + n + 1 > this.maxContext) throw new RangeError(`${this.name}: decoding past the context limit of ${this.maxContext}`);
    const history = this.ensureHistory();
    if (first >= 0) this.ctx.device.queue.writeBuffer(history, this.pos * 4, new Uint32Array([first]));
    const start = this.pos + 1;
    this.ensureLogits(1);
    this.reserve(this.pos + n, 1);
    this.ctx.run((pass) => { for (let i = 0; i < n; i++) this.encodeDecodeStep(pass, s, this.sampleStep++); }, `${this.name}.decode`);
    return this.ctx.readU32(history, n, start);
  }

  async generate(ids: number[], opts: GenerateOptions, onToken?: (e: TokenEvent) => void): Promise<{ ids: number[]; stats: GenerateStats }> {
    this.reset();
    const out: number[] = [];
    const stop = new Set(opts.stopIds ?? []);
    const t0 = now();
    // Prefill all but the last prompt token in chunks, then the last token together with the first sample.
    if (ids.length > 1) await this.prefill(ids.slice(0, -1));
    else this.checkContext(1);
    let stopReason: GenerateStats['stopReason'] = 'length';
    let tFirst = 0;
    let tPrev = t0;
    this.sampleStep = 0;
    while (out.length < opts.maxNewTokens) {
      if (opts.signal?.aborted) { stopReason = 'aborted'; break; }
      const room = this.maxContext - this.pos - 1;
      if (room <= 0) { stopReason = 'context'; break; }
      const n = Math.min(out.length === 0 ? 1 : this.stepsPerSubmit, opts.maxNewTokens - out.length, room);
      const got = await this.decodeBatch(out.length === 0 ? ids[ids.length - 1] : -1, n, opts);
      const t = now();
      if (out.length === 0) tFirst = t;
      let ended = false;
      for (let i = 0; i < n; i++) {
        const id = got[i];
        out.push(id);
        onToken?.({ id, index: out.length - 1, ms: (t - tPrev) / n });
        if (stop.has(id)) { stopReason = 'eos'; ended = true; break; }
      }
      tPrev = t;
      if (ended) break;
    }
    const tEnd = now();
    const prefillMs = tFirst - t0;
    const decodeMs = tEnd - tFirst;
    return {
      ids: out,
      stats: {
        promptTokens: ids.length,
        newTokens: out.length,
        prefillMs,
        decodeMs,
        prefillTokPerS: ids.length / (prefillMs / 1e3),
        decodeTokPerS: out.length > 1 ? (out.length - 1) / (decodeMs / 1e3) : 0,
        ttftMs: prefillMs,
        stopReason,
      },
    };
  }

  memory(): ModelMemory {
    const m: ModelMemory = { weights: this.weights.bytes(), kvCache: 0, ssmState: 0, activations: 0, scratch: 0 };
    for (const [b, cat] of this.own) {
      if (cat === 'kv-cache') m.kvCache += b.size;
      else if (cat === 'ssm-state') m.ssmState += b.size;
      else if (cat === 'activations') m.activations += b.size;
      else if (cat === 'scratch') m.scratch += b.size;
    }
    return m;
  }

  dispose(): void {
    for (const b of [...this.own.keys()]) this.free(b);
    this.history = this.logits = null;
    this.weights.destroy();
  }
}
