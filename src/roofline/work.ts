/**
 * What a prefill or one decode step has to do, counted from the model's config: GPU dispatches, bytes moved and
 * floating-point operations. Pure: no GPU, no model object (the counts a run measured, such as the dispatches of the
 * recorded decode step or the passes of a prefill, come in as options).
 *
 * Bytes are the least traffic the computation needs: every weight read once per pass (a decode step is one pass),
 * the sequence state read and written once per pass (Mamba: SSM + conv state; GPT-NeoX: the KV cache read up to the
 * pass's last position, the new rows written), each activation vector written once and read once. FLOPs count an FMA
 * as 2: the matmuls (2 · rows · cols per token per matrix; the LM head on one row per pass, as the page asks for the
 * last token's logits), and the sequence mixer:
 *   attention  QKᵀ and PV: 4 · d per (query, key) pair, causal (prefill of l tokens: l(l+1)/2 pairs per layer; a
 *              decode step at context L: L + 1 pairs), one exponential per pair and head;
 *   scan       (Mamba) per token, channel and state: Δ·A, exp, Δ·B·u, h = dA·h + dBu, y += C·h: 7 FLOPs + 1 exp;
 *              plus the causal conv (2 · k per channel);
 *   ssd        (Mamba-2) the chunked form the prefill runs (chunks of Q = 64 tokens): C·Bᵀ and its product with x
 *              inside a chunk (causal: g·n·Q + h·p·Q per token), chunk states and their readout (4·h·p·n per token);
 *              a decode step is the recurrence (6·h·p·n, h exps). Plus the causal conv over x, B, C.
 * Norms, gates, rotary and the sampler are left out of the FLOPs (small against the above).
 */
import type { GptNeoxConfig, Mamba2Config, MambaConfig, ModelConfig } from '../hub/config';

export type Phase = 'prefill' | 'decode';
export type Mixer = 'attention' | 'scan' | 'ssd';

/** Bytes moved, by what they are. `state`: the KV cache (GPT-NeoX) or the SSM + conv state (Mamba). */
export interface Bytes {
  weights: number;
  state: number;
  activations: number;
  total: number;
}

/** FLOPs, by where they go. `mixer`: attention's QKᵀ and PV, or the scan / SSD (grows with L for attention). */
export interface Flops {
  matmul: number;
  mixer: number;
  total: number;
  /** Exponentials (softmax, exp(Δ·A)): a count beside the FLOPs, for the words. */
  exps: number;
}

export interface Work {
  /** config arch: 'mamba' | 'mamba2' | 'gpt-neox' */
  model: ModelConfig['arch'];
  phase: Phase;
  mixer: Mixer;
  layers: number;
  /** Tokens processed: a prefill's prompt length, 1 for a decode step. */
  tokens: number;
  /** Positions before the work: 0 for a prefill from the start, the context length L for a decode step. */
  context: number;
  /** Compute passes (a prefill runs in passes; a decode step is one). */
  passes: number;
  dispatches: number;
  bytes: Bytes;
  flops: Flops;
}

export interface WorkOptions {
  /** Matrix precision on the GPU (default f32). 'f16': matrices whose input width is a multiple of 8 stay f16, as
   *  WeightStore keeps them; the others, and every small parameter, are f32. */
  matrixDType?: 'f32' | 'f16';
  /** Dispatches counted in the run (default for a decode step: decodeDispatches()). */
  dispatches?: number;
  /** Prefill passes (default ceil(tokens / 1024)). */
  passes?: number;
  /** The decode step's sampler: greedy argmax (1 dispatch) or sampling (2). */
  sampling?: 'greedy' | 'sample';
  /** The device's largest binding: matrices above it are split into row blocks (one dispatch each for the head). */
  maxBindingBytes?: number;
}

/** The Mamba-2 SSD form's chunk length as the kernel plans it on a GPU (src/kernels/ssd.ts). */
export const SSD_CHUNK = 64;
/** FLOPs of one (token, channel, state) step of the selective scan. */
export const SCAN_FLOPS = 7;

type Shape = [rows: number, cols: number];

/** Per-layer matrices and small parameters (f32 element count), the embedding, head and final-norm sizes. */
interface Shapes {
  layers: number;
  d: number;
  vocab: number;
  matrices: Shape[];
  params: number;
  finalParams: number;
  tied: boolean;
  mixer: Mixer;
  /** Decode dispatches per layer of the recorded step. */
  decodePerLayer: number;
  /** Floats of activation vectors one token writes (and then reads) per layer. */
  actFloats: number;
}

function mambaShapes(c: MambaConfig): Shapes {
  const d = c.hiddenSize, dIn = c.intermediateSize, n = c.stateSize, r = c.timeStepRank, k = c.convKernel;
  return {
    layers: c.numHiddenLayers, d, vocab: c.vocabSize, tied: c.tieWordEmbeddings, mixer: 'scan', decodePerLayer: 4,
    matrices: [[2 * dIn, d], [r + 2 * n, dIn], [dIn, r], [d, dIn]],
    // norm, conv weight (+ bias), dt bias, A_log, D (+ in/out biases)
    params: d + dIn * k + (c.useConvBias ? dIn : 0) + dIn + dIn * n + dIn + (c.useBias ? 2 * dIn + d : 0),
    finalParams: d,
    // hidden, normed, x|z, u, Δ_low|B|C, Δ, y
    actFloats: 2 * d + 2 * dIn + dIn + (r + 2 * n) + dIn + dIn,
  };
}

function mamba2Shapes(c: Mamba2Config): Shapes {
  const d = c.hiddenSize, dIn = c.intermediateSize, cd = c.convDim, h = c.numHeads, k = c.convKernel;
  const proj = dIn + cd + h;
  return {
    layers: c.numHiddenLayers, d, vocab: c.vocabSize, tied: c.tieWordEmbeddings, mixer: 'ssd', decodePerLayer: 3,
    matrices: [[proj, d], [d, dIn]],
    // norm, conv weight (+ bias), dt bias, A_log, D, gated-norm weight (+ in/out biases)
    params: d + cd * k + (c.useConvBias ? cd : 0) + 3 * h + dIn + (c.useBias ? proj + d : 0),
    finalParams: d,
    // hidden, normed, z|xBC|dt, x|B|C, y, gated-normed y
    actFloats: 2 * d + proj + cd + 2 * dIn,
  };
}

function neoxShapes(c: GptNeoxConfig): Shapes {
  const d = c.hiddenSize, f = c.intermediateSize;
  return {
    layers: c.numHiddenLayers, d, vocab: c.vocabSize, tied: c.tieWordEmbeddings, mixer: 'attention',
    decodePerLayer: c.useParallelResidual ? 4 : 5,
    matrices: [[3 * d, d], [d, d], [f, d], [d, f]],
    // two LayerNorms (weight, bias), QKV and dense biases, MLP biases
    params: 4 * d + (c.attentionBias ? 4 * d : 0) + f + d,
    finalParams: 2 * d,
    // x, LN output (twice), qkv, attention output, MLP hidden
    actFloats: d + 2 * d + 3 * d + d + f,
  };
}

function shapes(c: ModelConfig): Shapes {
  return c.arch === 'mamba' ? mambaShapes(c) : c.arch === 'mamba2' ? mamba2Shapes(c) : neoxShapes(c);
}

/** Bytes per element of a matrix as WeightStore holds it. */
function elemBytes(cols: number, dtype: 'f32' | 'f16'): number {
  return dtype === 'f16' && cols % 8 === 0 ? 2 : 4;
}

const matBytes = ([rows, cols]: Shape, dtype: 'f32' | 'f16') => rows * cols * elemBytes(cols, dtype);
const matElems = ([rows, cols]: Shape) => rows * cols;

/** Bytes of the weights one pass reads: every layer's matrices and parameters, the final norm and the LM head. */
export function weightBytesPerPass(c: ModelConfig, dtype: 'f32' | 'f16' = 'f32'): number {
  const s = shapes(c);
  const layer = s.matrices.reduce((t, m) => t + matBytes(m, dtype), 0) + 4 * s.params;
  return s.layers * layer + matBytes([s.vocab, s.d], dtype) + 4 * s.finalParams;
}

/** Bytes of all weights held on the GPU (the embedding counted once when tied), as the model's memory reports them
 *  up to buffer rounding and the decode step's parameter packs. */
export function weightBytesHeld(c: ModelConfig, dtype: 'f32' | 'f16' = 'f32'): number {
  const s = shapes(c);
  return weightBytesPerPass(c, dtype) + (s.tied ? 0 : matBytes([s.vocab, s.d], dtype));
}

/** Bytes of the sequence state per layer (SSM + conv state; 0 for attention, whose KV cache grows with L). */
function fixedStateBytes(c: ModelConfig): number {
  if (c.arch === 'mamba') return 4 * (c.intermediateSize * c.stateSize + c.intermediateSize * (c.convKernel - 1));
  if (c.arch === 'mamba2') return 4 * (c.numHeads * c.headDim * c.stateSize + c.convDim * (c.convKernel - 1));
  return 0;
}

/** Row blocks of the LM head on a device whose largest binding is maxBindingBytes. */
function headBlocks(s: Shapes, dtype: 'f32' | 'f16', maxBindingBytes: number): number {
  if (!Number.isFinite(maxBindingBytes)) return 1;
  const perRow = s.d * elemBytes(s.d, dtype);
  return Math.ceil(s.vocab / Math.max(1, Math.floor(maxBindingBytes / perRow)));
}

/**
 * Dispatches of one recorded decode step (src/models/*: recordDecodeStep + the sampler): the embedding gather, each
 * layer's fused kernels (Mamba 4, Mamba-2 3, GPT-NeoX 4 with the parallel residual, else 5), the final norm + LM head
 * (one per row block of the head), the sampler (argmax 1, sampling 2).
 */
export function decodeDispatches(c: ModelConfig, opts: Pick<WorkOptions, 'matrixDType' | 'sampling' | 'maxBindingBytes'> = {}): number {
  const s = shapes(c);
  const dtype = opts.matrixDType ?? 'f32';
  const blocks = headBlocks(s, dtype, opts.maxBindingBytes ?? Infinity);
  const embedBlocks = blocks;
  return embedBlocks + s.layers * s.decodePerLayer + blocks + (opts.sampling === 'sample' ? 2 : 1);
}

function mixerFlops(c: ModelConfig, phase: Phase, tokens: number, context: number): { flops: number; exps: number } {
  if (c.arch === 'gpt-neox') {
    // causal pairs: prefill of l tokens from position `context`: Σ_{t=1..l} (context + t); decode: context + 1
    const pairs = phase === 'decode' ? context + 1 : tokens * context + (tokens * (tokens + 1)) / 2;
    return { flops: c.numHiddenLayers * 4 * c.hiddenSize * pairs, exps: c.numHiddenLayers * c.numAttentionHeads * pairs };
  }
  if (c.arch === 'mamba') {
    const dIn = c.intermediateSize, n = c.stateSize;
    const perToken = SCAN_FLOPS * dIn * n + 2 * dIn * c.convKernel;
    return { flops: c.numHiddenLayers * tokens * perToken, exps: c.numHiddenLayers * tokens * dIn * n };
  }
  const { numHeads: h, headDim: p, stateSize: n, nGroups: g, convDim: cd, convKernel: k } = c;
  if (phase === 'decode') return { flops: c.numHiddenLayers * (6 * h * p * n + 2 * cd * k), exps: c.numHiddenLayers * h };
  const q = Math.min(SSD_CHUNK, tokens);
  const perToken = g * n * q + h * p * q + 4 * h * p * n + 2 * cd * k;
  return { flops: c.numHiddenLayers * tokens * perToken, exps: c.numHiddenLayers * tokens * h * (q / 2 + 1) };
}

function work(c: ModelConfig, phase: Phase, tokens: number, context: number, passes: number, dispatches: number, dtype: 'f32' | 'f16'): Work {
  const s = shapes(c);
  const embedRow = s.d * elemBytes(s.d, dtype);
  const weights = passes * weightBytesPerPass(c, dtype) + tokens * embedRow;
  let state: number;
  if (c.arch === 'gpt-neox') {
    // K and V rows of d floats per position per layer: the new ones written, the cache read up to each pass's end
    // (passes of equal length: Σ ends = context·passes + tokens·(passes + 1)/2)
    const ends = phase === 'decode' ? context + 1 : context * passes + (tokens * (passes + 1)) / 2;
    state = s.layers * 2 * s.d * 4 * (tokens + ends);
  } else {
    state = s.layers * passes * 2 * fixedStateBytes(c);
  }
  // each activation vector written once, read once; plus the final norm's output and one logits row per pass
  const activations = 8 * (tokens * (s.layers * s.actFloats + 2 * s.d) + passes * s.vocab);
  const layerElems = s.matrices.reduce((t, m) => t + matElems(m), 0);
  const matmul = 2 * tokens * s.layers * layerElems + passes * 2 * s.vocab * s.d;
  const mix = mixerFlops(c, phase, tokens, context);
  return {
    model: c.arch, phase, mixer: s.mixer, layers: s.layers, tokens, context, passes, dispatches,
    bytes: { weights, state, activations, total: weights + state + activations },
    flops: { matmul, mixer: mix.flops, total: matmul + mix.flops, exps: mix.exps },
  };
}

/** One decode step of the token at position `context` (it attends over context + 1 positions). */
export function decodeWork(c: ModelConfig, context: number, opts: WorkOptions = {}): Work {
  const dtype = opts.matrixDType ?? 'f32';
  return work(c, 'decode', 1, context, 1, opts.dispatches ?? decodeDispatches(c, opts), dtype);
}

/** A prefill of `tokens` tokens from position 0, in `passes` passes, with the dispatches it ran (counted). */
export function prefillWork(c: ModelConfig, tokens: number, opts: WorkOptions & { dispatches: number }): Work {
  const dtype = opts.matrixDType ?? 'f32';
  return work(c, 'prefill', tokens, 0, opts.passes ?? Math.ceil(tokens / 1024), opts.dispatches, dtype);
}
