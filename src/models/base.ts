/**
 * What both models share: the token history on the GPU, the logits buffer, and generate(): prefill the prompt, then
 * decode with the next token sampled on the GPU and written straight into the history buffer, so several decode
 * steps are encoded per submit with no readback in between (`stepsPerSubmit`).
 */
import type { GpuContext } from '../gpu/context';
import { DispatchList, StaticUniforms } from '../gpu/kernel';
import type { PassTimer } from '../gpu/timing';
import { countingPass } from '../gpu/count';
import { decodePartFloats, NON_FINITE_TOKEN } from '../kernels/sampling';
import { DEFAULT_KERNELS } from './kernel-choice';
import type { Ops } from './ops';
import type {
  GenerateOptions, ModelArch, GenerateStats, KernelChoice, LanguageModel, ModelDiagnostics, ModelMemory, PrefillInfo, SamplingOptions, TokenEvent,
} from './types';
import { view, type View, type Weight } from './tensor';
import { DecodeMatvec, type NormKind } from '../kernels/decode_matvec';
import type { LinearWeights } from '../kernels/matmul';
import type { WeightStore } from './weights';
import type { Category } from '../gpu/pool';
import { OutOfMemoryError } from '../gpu/errors';

/** prefill() options: all logits rows, or chunk-by-chunk progress with cancellation. */
export interface PrefillOptions {
  allLogits?: boolean;
  /** Called after each chunk has run on the GPU (tokens done, total) and once at the end. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

const now = () => (globalThis.performance ?? Date).now();

/** Default CausalLM.prefillBudget: per-pass activations of a prefill up to 512 MiB (mamba-130m: ~14k tokens a pass). */
export const PREFILL_BUDGET = 512 * 2 ** 20;
/** Prefill passes are never shorter than this (what every pass was before they were sized; limits then fail as before). */
export const PASS_FLOOR = 1024;
const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1, seed: 0 };

/** Logits that are NaN or ±Inf (e.g. NaN weights): a clear error naming the model instead of a silent token. */
export class NonFiniteLogitsError extends Error {
  constructor(readonly model: string, readonly position: number) {
    super(`${model}: the logits for position ${position} are not finite (NaN or Inf): the model's weights or activations ` +
      'hold NaN or overflowed, so no token can be chosen. Check the checkpoint (its weights may contain NaN/Inf).');
    this.name = 'NonFiniteLogitsError';
  }
}

/** Where a recorded step leaves its logits [V] and the LM head's argmax partials (3 floats each). */
export interface DecodeHead {
  logits: GPUBuffer;
  headPartials: number;
  headGroups: number;
}

/** One recorded decode step: the forward (step) and the forward + sampler (list), with what they bind. */
interface DecodeProgram {
  key: string;
  samplingKey: string;
  step: DispatchList;
  list: DispatchList;
  uniforms: StaticUniforms;
  samplerUniforms: StaticUniforms;
  head: DecodeHead;
  part: GPUBuffer | null;
}

/** A model weight as the kernels' LinearWeights. */
export function lw(W: Weight, bias: GPUBuffer | null = null): LinearWeights {
  return { dtype: W.dtype, rows: W.rows, cols: W.cols, blocks: W.blocks, bias };
}

function checkFinite(name: string, logits: Float32Array, V: number, firstPos: number): void {
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v - v !== 0) throw new NonFiniteLogitsError(name, firstPos + Math.floor(i / V));
  }
}

export abstract class CausalLM implements LanguageModel {
  abstract readonly arch: ModelArch;
  abstract readonly vocabSize: number;
  abstract readonly maxContext: number;
  kernels: KernelChoice = { ...DEFAULT_KERNELS };
  /** Decode steps recorded per submit in generate() (one readback per batch). */
  stepsPerSubmit = 8;
  /** Tokens per prefill pass when set (tests force several passes with it); null: sized per prompt (passRows). */
  prefillChunk: number | null = null;
  /** Bytes the per-pass activations of a prefill may take; with the device's binding limits it sizes the passes. */
  prefillBudget = PREFILL_BUDGET;
  /** Prefill passes are never shorter than this (PASS_FLOOR; tests lower it to exercise long passes on short prompts). */
  passFloor = PASS_FLOOR;
  /** How the last prefill() ran: passes, the longest pass, and the activation bytes it held (null before any). */
  lastPrefill: PrefillInfo | null = null;

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
  /** Bytes per token of the buffers one prefill pass allocates in reserve() (all of them, and the widest one), or
   *  null: passes of passFloor tokens. */
  protected passRowBytes(): { total: number; widest: number } | null {
    return null;
  }
  /** A further bound on the tokens of a pass starting at `pos` (e.g. a score matrix that must fit a binding). */
  protected passRowLimit(_pos: number): number {
    return Infinity;
  }
  /** Releases the per-pass buffers (a long prefill's activations) so that a model at rest holds no more than passes
   *  of passFloor tokens need; the next pass allocates again. */
  protected releasePassBuffers(): void {}
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

  /** Buffers this model allocated, by category (several models share one pool, so each counts its own); `decode`:
   *  made while recording the decode step (sized by the model, not by the sequence). */
  private readonly own = new Map<GPUBuffer, { category: Category; decode: boolean }>();
  private recordingDecode = false;

  /**
   * What the current sequence has used since reset(): its length in tokens, the widest forward pass (rows), the
   * logits rows of a prefill, and whether it decoded. memory() reports the bytes these need, so a figure depends on
   * the run alone, not on what ran before (buffers grown by a longer run stay held for reuse: memoryHeld()).
   */
  private used = { tokens: 0, rows: 0, logitRows: 0, decode: false };

  /** Bytes of KV cache one token of context takes (0 for a model with a fixed-size state). */
  protected abstract kvBytesPerToken(): number;
  /** Bytes of the prefill activation buffers per token row of a forward pass. */
  protected abstract actBytesPerRow(): number;

  private use(tokens: number, rows: number, logitRows: number, decode: boolean): void {
    const u = this.used;
    u.tokens = Math.max(u.tokens, tokens);
    u.rows = Math.max(u.rows, rows);
    u.logitRows = Math.max(u.logitRows, logitRows);
    u.decode ||= decode;
  }

  protected alloc(bytes: number, category: Category, label: string, decode = this.recordingDecode): GPUBuffer {
    const b = this.ctx.buffer(bytes, category, `${this.name}.${label}`);
    this.own.set(b, { category, decode });
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
    this.history ??= this.alloc((this.maxContext + 1) * 4, 'activations', 'history', false);
    return this.history;
  }

  protected ensureLogits(rows: number): View {
    if (!this.logits || this.logitsRows < rows) {
      this.free(this.logits);
      this.logits = null;
      this.logitsRows = 0;
      this.logits = this.alloc(Math.max(rows, 1) * this.vocabSize * 4, 'activations', 'logits', false);
      this.logitsRows = Math.max(rows, 1);
    }
    return view(this.logits, rows, this.vocabSize);
  }

  reset(): void {
    this.pos = 0;
    this.used = { tokens: 0, rows: 0, logitRows: 0, decode: false };
    this.clearState();
  }

  protected checkContext(n: number): void {
    if (this.pos + n > this.maxContext) {
      throw new RangeError(`${this.name}: ${this.pos + n} tokens exceed this model's context limit of ${this.maxContext} on this device`);
    }
  }

  /**
   * Runs `ids` after what is already in the state / cache. With `onProgress`, each chunk is awaited on the GPU and
   * reported (tokens done of the total), and `signal` is checked between chunks (an abort throws an AbortError).
   */
  async prefill(ids: number[], opts: PrefillOptions = {}): Promise<Float32Array> {
    if (ids.length === 0) throw new Error('prefill needs at least one token');
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`token id ${id} outside the vocabulary [0, ${this.vocabSize})`);
    }
    this.checkContext(ids.length);
    const all = opts.allLogits === true;
    if (ids.length === 1 && !all && !this.diag && this.fusedDecodeBlocker() === null) return this.stepFused(ids[0]);
    const history = this.ensureHistory();
    const aborted = () => {
      if (opts.signal?.aborted) throw Object.assign(new Error(`${this.name}: prefill cancelled`), { name: 'AbortError' });
    };
    aborted();
    this.ctx.device.queue.writeBuffer(history, this.pos * 4, new Uint32Array(ids));
    const V = this.vocabSize;
    const out = new Float32Array((all ? ids.length : 1) * V);
    const info: PrefillInfo = { tokens: ids.length, passes: 0, passTokens: 0, activationBytes: 0 };
    // With progress wanted for a longer prompt: passes of about an eighth of it (a power of two, at least 128 tokens)
    // while the rest would take more than 2 s at the speed measured; after that, passes as long as they can be.
    let progressRows = opts.onProgress && ids.length > 256 ? Math.max(128, 2 ** Math.ceil(Math.log2(ids.length / 8))) : Infinity;
    try {
      for (let start = 0; start < ids.length; ) {
        const left = ids.length - start;
        let n = Math.min(this.passRows(left, this.pos, all), progressRows);
        let logits: View;
        // Allocate the pass's buffers (each model allocates all or none); out of memory for a pass longer than
        // passFloor tokens: try half as many, down to passFloor, below which the error goes on.
        for (;;) {
          try {
            logits = this.ensureLogits(all ? n : 1);
            this.reserve(this.pos + n, n);
            break;
          } catch (e) {
            const floor = this.prefillChunk ?? Math.min(left, this.passFloor);
            if (!(e instanceof OutOfMemoryError) || n <= floor) throw e;
            n = Math.max(floor, Math.floor(n / 2));
          }
        }
        const last = n === left;
        info.passes++;
        info.passTokens = Math.max(info.passTokens, n);
        info.activationBytes = Math.max(info.activationBytes, this.memoryHeld().activations);
        const t0 = now();
        this.prefillPass((pass) => this.encodeForward(pass, n, this.pos, all ? 'all' : 'last', logits), n);
        const p0 = this.pos;
        this.pos += n;
        this.use(this.pos, n, all ? n : 1, false);
        if (opts.onProgress && !last) {
          await this.ctx.device.queue.onSubmittedWorkDone();
          if (((now() - t0) * (left - n)) / n < 2000) progressRows = Infinity;
          opts.onProgress(start + n, ids.length);
          aborted();
        }
        if (all) out.set(await this.ctx.readF32(logits.buffer, n * V), start * V);
        else if (last) out.set(await this.ctx.readF32(logits.buffer, V));
        if (all || last) checkFinite(this.name, all ? out.subarray(start * V, (start + n) * V) : out, V, all ? p0 : p0 + n - 1);
        start += n;
      }
    } finally {
      this.lastPrefill = info;
      if (info.passTokens > this.passFloor) {
        this.releasePassBuffers();
        if (this.logitsRows > this.passFloor) {
          this.free(this.logits);
          this.logits = null;
          this.logitsRows = 0;
        }
      }
    }
    opts.onProgress?.(ids.length, ids.length);
    return out;
  }

  /** Counters of prefill() since resetPrefillStats() (the roofline reads them): tokens, passes, dispatches recorded. */
  readonly prefillStats = { tokens: 0, passes: 0, dispatches: 0 };

  resetPrefillStats(): void {
    Object.assign(this.prefillStats, { tokens: 0, passes: 0, dispatches: 0 });
  }

  /** Records one prefill pass of `n` tokens and submits it: its dispatches counted, timed when passTimer is set. */
  private prefillPass(encode: (pass: GPUComputePassEncoder) => void, n: number): void {
    const label = `${this.name}.prefill`;
    const enc = this.ctx.device.createCommandEncoder({ label });
    const pass = enc.beginComputePass({ label, timestampWrites: this.passTimer?.writes('prefill') });
    const st = this.prefillStats;
    encode(countingPass(pass, st));
    pass.end();
    this.passTimer?.resolve(enc);
    this.ctx.submit(enc);
    st.tokens += n;
    st.passes += 1;
  }

  /**
   * Tokens in the next prefill pass (`left` to go, the pass starting at `pos`): as many as the per-pass buffers fit
   * in prefillBudget and in one binding (passRowBytes, passRowLimit; all logits rows when allLogits), split evenly
   * over the passes the prompt needs; never fewer than passFloor (the pass then fails as it would have before).
   * So a long prompt goes through each layer in one or a few long passes: the long-L scan path (chunked scan with
   * long chunks) the kernel benchmarks measure, and attention over many queries per call.
   */
  passRows(left: number, pos: number, allLogits = false): number {
    if (this.prefillChunk) return Math.min(this.prefillChunk, left);
    const b = this.passRowBytes();
    const floor = this.passFloor;
    if (!b) return Math.min(floor, left);
    const lim = this.ctx.limits;
    const binding = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
    const rowBytes = b.total + (allLogits ? this.vocabSize * 4 : 0);
    const fit = Math.min(Math.floor(binding / b.widest), allLogits ? Math.floor(binding / (this.vocabSize * 4)) : Infinity, this.passRowLimit(pos));
    const rows = Math.max(floor, Math.min(fit, Math.max(floor, Math.floor(this.prefillBudget / rowBytes))));
    if (rows <= floor) return Math.min(rows, left);
    return Math.max(Math.min(floor, left), Math.ceil(left / Math.ceil(left / rows)));
  }

  /** One token through the recorded decode step (no sampling), logits [V] read back. */
  private async stepFused(id: number): Promise<Float32Array> {
    const pos = this.pos;
    this.ctx.device.queue.writeBuffer(this.ensureHistory(), pos * 4, new Uint32Array([id]));
    this.reserve(pos + 1, 1);
    const p = this.program(this.decodeProgram ? this.lastSampling : GREEDY);
    this.ctx.device.queue.writeBuffer(this.ensureDecodeState(), 0, new Uint32Array([pos, 0, this.decodeCapacity(), 0]));
    this.ctx.run((pass) => p.step.replay(pass, pos), `${this.name}.step`);
    this.pos += 1;
    this.use(this.pos, 1, 0, true);
    const logits = await this.ctx.readF32(p.head.logits, this.vocabSize);
    checkFinite(this.name, logits, this.vocabSize, pos);
    return logits;
  }

  async step(id: number): Promise<Float32Array> {
    return this.prefill([id]);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Decode: one token per step, recorded once and replayed (see recordDecodeStep). Per token nothing is allocated,
  // keyed, packed or uploaded: the token id and the position live on the GPU (history buffer, decode state), the
  // sampler writes history[pos + 1] and advances the position, and several steps go into one submit.

  /** Counters of decodeBatch since resetDecodeStats() (the bench reads them): CPU time recording the steps
   *  (encodeMs: uploads, encoder, replay, readback copy) and in queue.submit (submitMs). */
  readonly decodeStats = { tokens: 0, submits: 0, dispatches: 0, encodeMs: 0, submitMs: 0 };
  /** When set, every decode submit's compute pass and every prefill pass is timed with timestamp queries (labelled
   *  'decode' and 'prefill'). */
  passTimer: PassTimer | null = null;
  /** u32 [pos, nsplit, KV capacity, 0], read and advanced by the recorded step's kernels. */
  private decodeState: GPUBuffer | null = null;
  private decodeProgram: DecodeProgram | null = null;
  private readonly stagingFree: GPUBuffer[] = [];

  resetDecodeStats(): void {
    Object.assign(this.decodeStats, { tokens: 0, submits: 0, dispatches: 0, encodeMs: 0, submitMs: 0 });
  }

  /**
   * Why the fused, recorded decode step cannot run for this model on this device (a layer matrix split into row
   * blocks, a hidden size too large for workgroup memory), or null. When set, decode records the model's per-op
   * forward for each step instead (same results, more dispatches).
   */
  protected abstract fusedDecodeBlocker(): string | null;

  /**
   * Records the forward of one token into `list`: the embedding of history[state[0]], every layer, the final norm
   * and the LM head writing logits [V] plus the head's argmax partials into the returned buffer. Called once (and
   * again after decodeKey() changes); kernels, buffers and bind groups made here are reused for every token.
   */
  protected abstract recordDecodeStep(list: DispatchList, uniforms: StaticUniforms, io: { history: GPUBuffer; state: GPUBuffer }): DecodeHead;

  /** What recorded bind groups depend on besides the weights (GPT-NeoX: the KV cache buffers). */
  protected decodeKey(): string {
    return '';
  }

  /** KV capacity written into the decode state (GPT-NeoX; 0 for Mamba). */
  protected decodeCapacity(): number {
    return 0;
  }

  /** The recorded step (forward + sampler) of the last decode, for encode benchmarks; null before the first. */
  get decodeList(): DispatchList | null {
    return this.decodeProgram?.list ?? null;
  }

  /** Dispatches one recorded decode step replays (0 before the first decode). */
  get decodeDispatchesPerStep(): number {
    return this.decodeProgram ? this.decodeProgram.list.length : 0;
  }

  private ensureDecodeState(): GPUBuffer {
    this.decodeState ??= this.alloc(16, 'activations', 'decode-state');
    return this.decodeState;
  }

  /** The recorded step for these sampling settings, rebuilt only when decodeKey() or the settings change. */
  private lastSampling: SamplingOptions = GREEDY;

  private program(s: SamplingOptions): DecodeProgram {
    this.recordingDecode = true;
    try {
      return this.recordProgram(s);
    } finally {
      this.recordingDecode = false;
    }
  }

  private recordProgram(s: SamplingOptions): DecodeProgram {
    this.lastSampling = s;
    const key = this.decodeKey();
    const skey = `${s.temperature}|${s.topK}|${s.topP}|${s.seed}`;
    let p = this.decodeProgram;
    if (p && p.key === key && p.samplingKey === skey) return p;
    if (p && p.key === key) {
      // same step, other sampling settings: record only the sampler again
      p.samplerUniforms.destroy();
      this.decodeProgram = null;
      const list = new DispatchList();
      list.append(p.step);
      const su = new StaticUniforms(this.ctx.device);
      this.recordSampler(list, su, p, s);
      p = { ...p, list, samplerUniforms: su, samplingKey: skey };
      this.decodeProgram = p;
      return p;
    }
    const oldPart = p?.part ?? null;
    if (p) {
      p.uniforms.destroy();
      p.samplerUniforms.destroy();
      this.decodeProgram = null;
    }
    const history = this.ensureHistory(), state = this.ensureDecodeState();
    const uniforms = new StaticUniforms(this.ctx.device);
    const step = new DispatchList();
    const out = this.recordDecodeStep(step, uniforms, { history, state });
    const list = new DispatchList();
    list.append(step);
    const samplerUniforms = new StaticUniforms(this.ctx.device);
    p = { key, samplingKey: skey, step, list, uniforms, samplerUniforms, head: out, part: oldPart };
    this.recordSampler(list, samplerUniforms, p, s);
    this.decodeProgram = p;
    return p;
  }

  private recordSampler(list: DispatchList, su: StaticUniforms, p: DecodeProgram, s: SamplingOptions): void {
    const sampler = this.ops.sampler();
    const floats = decodePartFloats(this.vocabSize, s);
    if (floats > 0 && (!p.part || p.part.size < floats * 4)) {
      this.free(p.part);
      p.part = this.alloc(floats * 4, 'scratch', 'decode-sampler-partials');
    }
    sampler.bindDecode(list, su, { ...p.head, V: this.vocabSize, history: this.ensureHistory(), state: this.ensureDecodeState(), part: p.part }, s, s.seed);
  }

  /** Final norm + LM head kernels of the recorded decode step, one per row block of the head, with argmax partials. */
  protected headKernels(head: Weight, norm: NormKind, eps: number): DecodeMatvec[] {
    return head.blocks.map((b) => new DecodeMatvec(this.ctx, { K: head.cols, N: b.rows, dtype: head.dtype, norm, eps, argmax: true }));
  }

  private decodeLogits: GPUBuffer | null = null;

  /** Records the final norm + LM head (block by block) reading x; logits [V] then the argmax partials. */
  protected recordHead(list: DispatchList, uniforms: StaticUniforms, kernels: DecodeMatvec[], x: GPUBuffer, pack: GPUBuffer, off: { gOff: number; bOff: number }, head: Weight, xOff = 0): DecodeHead {
    const V = this.vocabSize;
    const partials = kernels.reduce((t, k) => t + k.partialFloats, 0);
    const headPartials = Math.ceil(V / 4) * 4;
    if (!this.decodeLogits || this.decodeLogits.size < (headPartials + partials) * 4) {
      this.free(this.decodeLogits);
      this.decodeLogits = this.alloc((headPartials + partials) * 4, 'activations', 'decode.logits');
    }
    const logits = this.decodeLogits;
    let r0 = 0, p0 = headPartials;
    head.blocks.forEach((b, i) => {
      const k = kernels[i];
      const g = k.bind(uniforms, { x, xOff, rowStart: r0, pack, y: logits, partOff: p0, seg1: { w: b.buffer, yOff: 0, epi: 0, gOff: off.gOff, bOff: off.bOff } });
      list.add(k.kernel, g.group, g.grid);
      r0 += b.rows;
      p0 += k.partialFloats;
    });
    return { logits, headPartials, headGroups: (p0 - headPartials) / 3 };
  }

  /** A MAP_READ buffer for `bytes` of tokens (reused across batches). */
  private staging(bytes: number): GPUBuffer {
    const i = this.stagingFree.findIndex((b) => b.size >= bytes);
    if (i >= 0) return this.stagingFree.splice(i, 1)[0];
    return this.ctx.device.createBuffer({ size: Math.max(256, Math.ceil(bytes / 256) * 256), usage: 0x01 | 0x08, label: `${this.name}.token-readback` });
  }

  /** Throws a NonFiniteLogitsError naming the model when tokens hold the sampler's non-finite sentinel. */
  private checkTokens(tokens: Uint32Array, firstPos: number): void {
    const i = tokens.indexOf(NON_FINITE_TOKEN);
    if (i >= 0) throw new NonFiniteLogitsError(this.name, firstPos + i);
  }

  /**
   * Encodes `n` decode steps after the current state and submits them at once: token history[pos] (or `first`,
   * written there first when ≥ 0; −1 feeds the token already there, i.e. the previous batch's last sample) is
   * consumed, the next token is sampled on the GPU into history[pos + 1], and so on. Everything is submitted before
   * this returns its promise, so a caller may start the next batch before awaiting this one (CPU encoding overlaps
   * the GPU); the promise resolves with the n sampled ids (one readback per batch).
   */
  decodeBatch(first: number, n: number, s: SamplingOptions = GREEDY): Promise<Uint32Array> {
    if (!(Number.isInteger(n) && n >= 1)) return Promise.reject(new RangeError(`${this.name}: decodeBatch needs n ≥ 1, got ${n}`));
    if (this.pos + n + 1 > this.maxContext) return Promise.reject(new RangeError(`${this.name}: decoding past the context limit of ${this.maxContext}`));
    if (first >= this.vocabSize || (first < 0 && first !== -1) || !Number.isInteger(first)) return Promise.reject(new RangeError(`token id ${first} outside the vocabulary [0, ${this.vocabSize})`));
    if (first === -1 && this.pos === 0) return Promise.reject(new Error(`${this.name}: decodeBatch(-1) needs a token at position 0; pass the first id`));
    const t0 = now();
    const pos0 = this.pos;
    const history = this.ensureHistory();
    if (first >= 0) this.ctx.device.queue.writeBuffer(history, pos0 * 4, new Uint32Array([first]));
    this.reserve(pos0 + n, 1);
    const fused = this.fusedDecodeBlocker() === null;
    const enc = this.ctx.device.createCommandEncoder({ label: `${this.name}.decode` });
    const pass = enc.beginComputePass({ label: `${this.name}.decode`, timestampWrites: this.passTimer?.writes('decode') });
    let dispatches = 0;
    if (fused) {
      const p = this.program(s);
      this.ctx.device.queue.writeBuffer(this.ensureDecodeState(), 0, new Uint32Array([pos0, 0, this.decodeCapacity(), 0]));
      for (let i = 0; i < n; i++) p.list.replay(pass, pos0 + i);
      dispatches = n * p.list.length;
    } else {
      const logits = this.ensureLogits(1);
      const counted = { dispatches: 0 };
      const cp = countingPass(pass, counted);
      for (let i = 0; i < n; i++) {
        this.encodeForward(cp, 1, pos0 + i, 'last', logits);
        this.ops.sample(cp, logits, history, pos0 + i + 1, s, pos0 + i);
      }
      dispatches = counted.dispatches;
    }
    pass.end();
    this.passTimer?.resolve(enc);
    const staging = this.staging(n * 4);
    enc.copyBufferToBuffer(history, (pos0 + 1) * 4, staging, 0, n * 4);
    const t1 = now();
    this.ctx.submit(enc);
    this.pos += n;
    this.use(this.pos, 1, fused ? 0 : 1, fused);
    const st = this.decodeStats;
    st.tokens += n;
    st.submits += 1;
    st.dispatches += dispatches;
    st.encodeMs += t1 - t0;
    st.submitMs += now() - t1;
    return staging.mapAsync(0x0001).then(() => {
      const ids = new Uint32Array(staging.getMappedRange(0, n * 4).slice(0));
      staging.unmap();
      this.stagingFree.push(staging);
      this.checkTokens(ids, pos0 + 1);
      return ids;
    }, (e) => {
      staging.destroy();
      throw e;
    });
  }

  /**
   * Prompt then sampled tokens, streamed through onToken; the state is reset first. The prompt (all but its last
   * token) is prefilled in chunks; decode then runs in batches of stepsPerSubmit tokens (the first batch is one
   * token: time to first token), with the next batch submitted before the current one is read back, so the CPU
   * encodes while the GPU runs. After a stop token the batch already in flight is discarded: the model state then
   * lies past the returned tokens (generate() resets it on the next call). Sampling draws with u = hash(seed, pos).
   */
  async generate(ids: number[], opts: GenerateOptions, onToken?: (e: TokenEvent) => void): Promise<{ ids: number[]; stats: GenerateStats }> {
    this.reset();
    const out: number[] = [];
    const stop = new Set(opts.stopIds ?? []);
    const t0 = now();
    if (ids.length === 0) throw new Error('generate needs at least one prompt token');
    if (ids.length > 1) await this.prefill(ids.slice(0, -1));
    else this.checkContext(1);
    const last = ids[ids.length - 1];
    if (!Number.isInteger(last) || last < 0 || last >= this.vocabSize) throw new RangeError(`token id ${last} outside the vocabulary [0, ${this.vocabSize})`);
    let stopReason: GenerateStats['stopReason'] = 'length';
    let tFirst = 0;
    let tPrev = t0;
    const inflight: Promise<Uint32Array>[] = [];
    let submitted = 0;
    const submitMore = () => {
      while (inflight.length < 2 && submitted < opts.maxNewTokens && !opts.signal?.aborted) {
        const room = this.maxContext - this.pos - 1;
        if (room <= 0) break;
        const n = Math.min(submitted === 0 ? 1 : this.stepsPerSubmit, opts.maxNewTokens - submitted, room);
        inflight.push(this.decodeBatch(submitted === 0 ? last : -1, n, opts));
        submitted += n;
      }
    };
    try {
      submitMore();
      while (inflight.length > 0) {
        const got = await inflight.shift()!;
        const t = now();
        if (out.length === 0) tFirst = t;
        let ended = false;
        for (let i = 0; i < got.length; i++) {
          const id = got[i];
          out.push(id);
          onToken?.({ id, index: out.length - 1, ms: (t - tPrev) / got.length });
          if (stop.has(id)) { stopReason = 'eos'; ended = true; break; }
        }
        tPrev = t;
        if (ended) break;
        if (opts.signal?.aborted) { stopReason = 'aborted'; break; }
        submitMore();
        if (inflight.length === 0 && out.length < opts.maxNewTokens) stopReason = 'context';
      }
    } finally {
      // batches still in flight after a stop: wait for them (their errors no longer matter)
      await Promise.allSettled(inflight);
    }
    if (opts.signal?.aborted && stopReason === 'length' && out.length < opts.maxNewTokens) stopReason = 'aborted';
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
        // 0 when unmeasured: one token, or the later batches read back in the same tick as the first (no time passed)
        decodeTokPerS: out.length > 1 && decodeMs > 0 ? (out.length - 1) / (decodeMs / 1e3) : 0,
        ttftMs: prefillMs,
        stopReason,
      },
    };
  }

  /**
   * Bytes on the GPU that the current sequence needs (since the last reset()), by role: the weights (and, once it
   * decoded, the decode step's parameter packs); the KV cache for the tokens it holds; the recurrent state; the
   * activations of its widest pass, its logits rows, its token history and (once it decoded) the decode step's
   * buffers; scratch in use. The same run gives the same figures on a fresh page and after any history: buffers
   * grown by an earlier, longer run stay allocated for reuse and are counted by memoryHeld(), not here. Kernel
   * workspaces shared by the models (scan chunk states, attention partials) are not included.
   */
  memory(): ModelMemory {
    const u = this.used;
    const m: ModelMemory = { weights: this.weights.bytes(), kvCache: u.tokens * this.kvBytesPerToken(), ssmState: 0, activations: 0, scratch: 0 };
    for (const [b, e] of this.own) {
      if (e.category === 'ssm-state') m.ssmState += b.size;
      else if (e.category === 'scratch' && !e.decode) m.scratch += b.size;
      else if (e.decode && u.decode) {
        if (e.category === 'weights') m.weights += b.size;
        else if (e.category === 'activations') m.activations += b.size;
        else if (e.category === 'scratch') m.scratch += b.size;
      }
    }
    if (u.tokens > 0) m.activations += u.rows * this.actBytesPerRow() + u.logitRows * this.vocabSize * 4 + (u.tokens + 1) * 4;
    return m;
  }

  /** Bytes of the GPU buffers this model holds now, by role: what memory() needs plus capacity kept from earlier,
   *  longer runs (a KV cache grown by doubling, activations for a wider pass, the token history for the whole context). */
  memoryHeld(): ModelMemory {
    const m: ModelMemory = { weights: this.weights.bytes(), kvCache: 0, ssmState: 0, activations: 0, scratch: 0 };
    for (const [b, { category: cat }] of this.own) {
      if (cat === 'weights') m.weights += b.size; // decode parameter packs
      else if (cat === 'kv-cache') m.kvCache += b.size;
      else if (cat === 'ssm-state') m.ssmState += b.size;
      else if (cat === 'activations') m.activations += b.size;
      else if (cat === 'scratch') m.scratch += b.size;
    }
    return m;
  }

  dispose(): void {
    this.decodeProgram?.uniforms.destroy();
    this.decodeProgram?.samplerUniforms.destroy();
    this.decodeProgram = null;
    for (const b of this.stagingFree.splice(0)) b.destroy();
    for (const b of [...this.own.keys()]) this.free(b);
    this.history = this.logits = this.decodeState = this.decodeLogits = null;
    this.ops.destroy();
    this.weights.destroy();
  }
}
