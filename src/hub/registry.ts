// The supported models: hub pairs (Mamba vs a Pythia of similar size), three-way sets (Mamba, Mamba-2 and a Pythia
// of similar size) and the built-in demo pair served from the app's own origin. Sizes are approximate (computed from the architecture: exact parameter counts, the checkpoint's
// dtype, plus the GPT-NeoX causal-mask buffers old Pythia checkpoints carry); probeDownloadBytes() asks the server
// for the real size. estimateGpuMemory() sizes weights + KV cache / SSM state from a parsed config.

import { companionTokenizerRepo } from './companion';
import type { GptNeoxConfig, Mamba2Config, MambaConfig, ModelConfig } from './config';
import { HubClient, fileUrl, hubSource, staticSource, type ModelSource, type WeightFormat } from './hub';

export type WeightDtype = 'f32' | 'f16';

export interface RegistryEntry {
  /** stable id, e.g. 'mamba-130m' */
  id: string;
  label: string;
  arch: 'mamba' | 'mamba2' | 'gpt-neox';
  source: ModelSource;
  /** repo id for hub entries, folder name for demo entries */
  repo: string;
  /** parameter count (exact for hub entries, from the architecture) */
  params: number;
  /** dtype of the checkpoint on the hub */
  checkpointDtype: 'f32' | 'f16';
  /** how the weights are published: model.safetensors or PyTorch's pytorch_model.bin */
  format: WeightFormat;
  /** the repo the tokenizer comes from when it is not the model's own (state-spaces/mamba-130m → EleutherAI/gpt-neox-20b) */
  tokenizerRepo?: string;
  /** approximate bytes to download (model.safetensors + small JSON files); null if unknown (demo models) */
  approxDownloadBytes: number | null;
  approximate: true;
  /** the architecture parameters the estimates come from (the real config.json is authoritative at load time) */
  shape: { hiddenSize: number; numLayers: number; vocabSize: number; extra: Record<string, number> };
}

/** Models the page loads together, one per architecture: a pair (two) or a three-way set (Mamba, Mamba-2 and a
 *  GPT-NeoX). The page puts each entry in the slot of its architecture. */
export interface ModelPair {
  id: string;
  label: string;
  /** Two or three entries, each of another architecture, in ARCH_ORDER. */
  entries: RegistryEntry[];
}

/** The order the page shows architectures in. */
export const ARCH_ORDER: readonly RegistryEntry['arch'][] = ['mamba', 'mamba2', 'gpt-neox'];

/** A pair or set from its entries (any order): sorted into ARCH_ORDER; two to three, each of another architecture. */
export function modelPair(id: string, label: string, entries: RegistryEntry[]): ModelPair {
  const archs = entries.map((e) => e.arch);
  if (entries.length < 2 || entries.length > 3 || new Set(archs).size !== archs.length) {
    throw new Error(`a model pair takes two or three models of different architectures, not ${archs.join(', ')}`);
  }
  return { id, label, entries: [...entries].sort((a, b) => ARCH_ORDER.indexOf(a.arch) - ARCH_ORDER.indexOf(b.arch)) };
}

/** The pair's entry of an architecture, if it has one. */
export function pairEntry(pair: ModelPair, arch: RegistryEntry['arch']): RegistryEntry | undefined {
  return pair.entries.find((e) => e.arch === arch);
}

/** Mamba v1 parameter count from the architecture (tied embeddings: lm_head not counted). */
export function mambaParams(c: Pick<MambaConfig, 'hiddenSize' | 'intermediateSize' | 'stateSize' | 'timeStepRank' | 'convKernel' | 'numHiddenLayers' | 'vocabSize' | 'useBias' | 'useConvBias' | 'tieWordEmbeddings'>): number {
  const d = c.hiddenSize, D = c.intermediateSize, N = c.stateSize, R = c.timeStepRank, K = c.convKernel;
  const layer =
    2 * D * d + (c.useBias ? 2 * D : 0) + // in_proj
    D * K + (c.useConvBias ? D : 0) + // conv1d
    (R + 2 * N) * D + // x_proj
    R * D + D + // dt_proj (+ bias)
    D * N + D + // A_log, D
    d * D + (c.useBias ? d : 0) + // out_proj
    d; // norm
  return c.vocabSize * d * (c.tieWordEmbeddings ? 1 : 2) + c.numHiddenLayers * layer + d;
}

/** Mamba-2 parameter count from the architecture (tied embeddings: lm_head not counted). */
export function mamba2Params(c: Pick<Mamba2Config, 'hiddenSize' | 'intermediateSize' | 'convDim' | 'numHeads' | 'convKernel' | 'numHiddenLayers' | 'vocabSize' | 'useBias' | 'useConvBias' | 'tieWordEmbeddings'>): number {
  const d = c.hiddenSize, dIn = c.intermediateSize, cd = c.convDim, h = c.numHeads, K = c.convKernel;
  const proj = dIn + cd + h;
  const layer =
    proj * d + (c.useBias ? proj : 0) + // in_proj: z | x, B, C | dt
    cd * K + (c.useConvBias ? cd : 0) + // conv1d over x, B, C
    3 * h + // dt_bias, A_log, D (one per head)
    dIn + // gated norm
    d * dIn + (c.useBias ? d : 0) + // out_proj
    d; // block norm
  return c.vocabSize * d * (c.tieWordEmbeddings ? 1 : 2) + c.numHiddenLayers * layer + d;
}

/** GPT-NeoX parameter count from the architecture. */
export function gptNeoxParams(c: Pick<GptNeoxConfig, 'hiddenSize' | 'intermediateSize' | 'numHiddenLayers' | 'vocabSize' | 'attentionBias' | 'tieWordEmbeddings'>): number {
  const d = c.hiddenSize, F = c.intermediateSize;
  const b = c.attentionBias ? 1 : 0;
  const layer = 4 * d + 3 * d * d + b * 3 * d + d * d + b * d + F * d + F + d * F + d;
  return c.vocabSize * d * (c.tieWordEmbeddings ? 1 : 2) + c.numHiddenLayers * layer + 2 * d;
}

export function countParams(config: ModelConfig): number {
  if (config.arch === 'mamba') return mambaParams(config);
  if (config.arch === 'mamba2') return mamba2Params(config);
  return gptNeoxParams(config);
}

const SMALL_FILES_BYTES = 2_200_000; // tokenizer.json (~2.1 MB for the GPT-NeoX tokenizer) + config files

/**
 * A Mamba v1 on the hub: the -hf conversions (transformers' MambaForCausalLM, model.safetensors) or the authors' own
 * repos (mamba_ssm config.json, pytorch_model.bin, no tokenizer: GPT-NeoX-20B's). Either way 50280 embedding rows:
 * vocab 50277 padded to a multiple of 8.
 */
function mambaEntry(id: string, repo: string, d: number, layers: number): RegistryEntry {
  const D = 2 * d, R = Math.ceil(d / 16), V = 50280;
  const params = mambaParams({
    hiddenSize: d, intermediateSize: D, stateSize: 16, timeStepRank: R, convKernel: 4, numHiddenLayers: layers,
    vocabSize: V, useBias: false, useConvBias: true, tieWordEmbeddings: true,
  });
  return {
    id, label: repo.split('/')[1], arch: 'mamba', source: hubSource(repo), repo, params, checkpointDtype: 'f32',
    format: repo.endsWith('-hf') ? 'safetensors' : 'pytorch',
    ...(companionTokenizerRepo(repo) && !repo.endsWith('-hf') ? { tokenizerRepo: companionTokenizerRepo(repo)! } : {}),
    approxDownloadBytes: params * 4 + SMALL_FILES_BYTES, approximate: true,
    shape: { hiddenSize: d, numLayers: layers, vocabSize: V, extra: { intermediateSize: D, stateSize: 16, timeStepRank: R } },
  };
}

/** A transformers Mamba2ForCausalLM conversion of the authors' checkpoints (head dim 64, N 128, one group). */
function mamba2Entry(id: string, repo: string, d: number, layers: number): RegistryEntry {
  const dIn = 2 * d, h = dIn / 64, n = 128, V = 50288;
  const convDim = dIn + 2 * n;
  const params = mamba2Params({
    hiddenSize: d, intermediateSize: dIn, convDim, numHeads: h, convKernel: 4, numHiddenLayers: layers, vocabSize: V,
    useBias: false, useConvBias: true, tieWordEmbeddings: true,
  });
  return {
    id, label: repo.split('/')[1], arch: 'mamba2', source: hubSource(repo), repo, params, checkpointDtype: 'f32', format: 'safetensors',
    approxDownloadBytes: params * 4 + SMALL_FILES_BYTES, approximate: true,
    shape: { hiddenSize: d, numLayers: layers, vocabSize: V, extra: { intermediateSize: dIn, numHeads: h, headDim: 64, stateSize: n, nGroups: 1 } },
  };
}

function pythiaEntry(id: string, repo: string, d: number, heads: number, layers: number): RegistryEntry {
  const V = 50304, F = 4 * d, maxPos = 2048;
  const params = gptNeoxParams({ hiddenSize: d, intermediateSize: F, numHiddenLayers: layers, vocabSize: V, attentionBias: true, tieWordEmbeddings: false });
  // Pythia's safetensors also hold per-layer `attention.bias` causal masks (bool [1,1,2048,2048]) we skip but download.
  const maskBytes = layers * maxPos * maxPos;
  return {
    id, label: repo.split('/')[1], arch: 'gpt-neox', source: hubSource(repo), repo, params, checkpointDtype: 'f16', format: 'safetensors',
    approxDownloadBytes: params * 2 + maskBytes + SMALL_FILES_BYTES, approximate: true,
    shape: { hiddenSize: d, numLayers: layers, vocabSize: V, extra: { numAttentionHeads: heads, intermediateSize: F, maxPositionEmbeddings: maxPos } },
  };
}

/** Hub models, smallest first. */
export const HUB_MODELS: readonly RegistryEntry[] = [
  mambaEntry('mamba-130m', 'state-spaces/mamba-130m-hf', 768, 24),
  pythiaEntry('pythia-160m', 'EleutherAI/pythia-160m', 768, 12, 12),
  mambaEntry('mamba-370m', 'state-spaces/mamba-370m-hf', 1024, 48),
  pythiaEntry('pythia-410m', 'EleutherAI/pythia-410m', 1024, 16, 24),
  mambaEntry('mamba-790m', 'state-spaces/mamba-790m-hf', 1536, 48),
  pythiaEntry('pythia-1b', 'EleutherAI/pythia-1b', 2048, 8, 16),
  mambaEntry('mamba-1.4b', 'state-spaces/mamba-1.4b-hf', 2048, 48),
  pythiaEntry('pythia-1.4b', 'EleutherAI/pythia-1.4b', 2048, 16, 24),
  pythiaEntry('pythia-2.8b', 'EleutherAI/pythia-2.8b', 2560, 32, 32),
  // The authors' checkpoints as they published them (mamba_ssm format; tokenizer from EleutherAI/gpt-neox-20b).
  mambaEntry('mamba-130m-ssm', 'state-spaces/mamba-130m', 768, 24),
  mambaEntry('mamba-370m-ssm', 'state-spaces/mamba-370m', 1024, 48),
  mambaEntry('mamba-790m-ssm', 'state-spaces/mamba-790m', 1536, 48),
  mambaEntry('mamba-1.4b-ssm', 'state-spaces/mamba-1.4b', 2048, 48),
  mambaEntry('mamba-2.8b-ssm', 'state-spaces/mamba-2.8b', 2560, 64),
];

/** Mamba-2 (the third architecture family), at the Mamba sizes: AntonV's transformers conversions of
 *  state-spaces/mamba2-*. */
export const HUB_MAMBA2_MODELS: readonly RegistryEntry[] = [
  mamba2Entry('mamba2-130m', 'AntonV/mamba2-130m-hf', 768, 24),
  mamba2Entry('mamba2-370m', 'AntonV/mamba2-370m-hf', 1024, 48),
  mamba2Entry('mamba2-780m', 'AntonV/mamba2-780m-hf', 1536, 48),
  mamba2Entry('mamba2-1.3b', 'AntonV/mamba2-1.3b-hf', 2048, 48),
  mamba2Entry('mamba2-2.7b', 'AntonV/mamba2-2.7b-hf', 2560, 64),
];

export function registryEntry(id: string): RegistryEntry {
  const all = [...HUB_MODELS, ...HUB_MAMBA2_MODELS];
  const e = all.find((m) => m.id === id || m.repo === id);
  if (!e) throw new Error(`unknown model "${id}"; known: ${all.map((m) => m.id).join(', ')}`);
  return e;
}

function pair(id: string, label: string, ...ids: string[]): ModelPair {
  return modelPair(id, label, ids.map(registryEntry));
}

/** Hub pairs of comparable size. */
export const HUB_PAIRS: readonly ModelPair[] = [
  pair('130m', 'Mamba 130M vs Pythia 160M', 'mamba-130m', 'pythia-160m'),
  pair('370m', 'Mamba 370M vs Pythia 410M', 'mamba-370m', 'pythia-410m'),
  pair('790m', 'Mamba 790M vs Pythia 1B', 'mamba-790m', 'pythia-1b'),
  pair('1.4b', 'Mamba 1.4B vs Pythia 1.4B', 'mamba-1.4b', 'pythia-1.4b'),
  pair('130m-ssm', "Mamba 130M (authors' .bin) vs Pythia 160M", 'mamba-130m-ssm', 'pythia-160m'),
  pair('370m-ssm', "Mamba 370M (authors' .bin) vs Pythia 410M", 'mamba-370m-ssm', 'pythia-410m'),
  pair('790m-ssm', "Mamba 790M (authors' .bin) vs Pythia 1B", 'mamba-790m-ssm', 'pythia-1b'),
  pair('1.4b-ssm', "Mamba 1.4B (authors' .bin) vs Pythia 1.4B", 'mamba-1.4b-ssm', 'pythia-1.4b'),
  pair('2.8b-ssm', "Mamba 2.8B (authors' .bin) vs Pythia 2.8B", 'mamba-2.8b-ssm', 'pythia-2.8b'),
  // Three-way: Mamba-2 at the Mamba sizes beside the same two.
  pair('130m-3way', 'Mamba 130M · Mamba-2 130M · Pythia 160M', 'mamba-130m', 'mamba2-130m', 'pythia-160m'),
  pair('370m-3way', 'Mamba 370M · Mamba-2 370M · Pythia 410M', 'mamba-370m', 'mamba2-370m', 'pythia-410m'),
  pair('790m-3way', 'Mamba 790M · Mamba-2 780M · Pythia 1B', 'mamba-790m', 'mamba2-780m', 'pythia-1b'),
  pair('1.4b-3way', 'Mamba 1.4B · Mamba-2 1.3B · Pythia 1.4B', 'mamba-1.4b', 'mamba2-1.3b', 'pythia-1.4b'),
  pair('2.8b-3way', "Mamba 2.8B (authors' .bin) · Mamba-2 2.7B · Pythia 2.8B", 'mamba-2.8b-ssm', 'mamba2-2.7b', 'pythia-2.8b'),
];

/** Folder names of the built-in demo models under the app's public/models/. */
export const DEMO_MAMBA_DIR = 'demo-mamba';
export const DEMO_PYTHIA_DIR = 'demo-pythia';

function demoEntry(id: string, label: string, arch: 'mamba' | 'gpt-neox', dir: string, origin: string): RegistryEntry {
  return {
    id, label, arch, source: staticSource(`${origin.replace(/\/+$/, '')}/models/${dir}`, label), repo: dir,
    params: 0, checkpointDtype: 'f32', format: 'safetensors', approxDownloadBytes: null, approximate: true,
    shape: { hiddenSize: 0, numLayers: 0, vocabSize: 0, extra: {} },
  };
}

/**
 * The built-in demo pair, served by the app itself at `${origin}/models/demo-mamba/{file}` and
 * `${origin}/models/demo-pythia/{file}` (origin: location.origin in the page or worker; include Vite's base path).
 * Sizes are unknown until probed.
 */
export function demoPair(origin: string): ModelPair {
  return modelPair('demo', 'Demo (built-in tiny models)', [
    demoEntry('demo-mamba', 'demo-mamba', 'mamba', DEMO_MAMBA_DIR, origin),
    demoEntry('demo-pythia', 'demo-pythia', 'gpt-neox', DEMO_PYTHIA_DIR, origin),
  ]);
}

/** All pairs: the demo pair first, then the hub pairs. */
export function allPairs(origin: string): ModelPair[] {
  return [demoPair(origin), ...HUB_PAIRS];
}

/**
 * The real download size of a model's weights: Content-Length of its weight file (HEAD: model.safetensors, else
 * pytorch_model.bin), or of each shard of a sharded checkpoint. Null when the server doesn't say.
 */
export async function probeDownloadBytes(client: HubClient, source: ModelSource, opts: { signal?: AbortSignal } = {}): Promise<number | null> {
  const files = await client.listFiles(source, opts);
  let total = 0;
  for (const f of files.files) {
    const n = await client.fileSize(source, f, opts);
    if (n === null) return null;
    total += n;
  }
  return total;
}

export interface GpuMemoryEstimate {
  /** weight bytes as uploaded (f32 or packed f16; 1-D params such as norms/biases kept in f32) */
  weightsBytes: number;
  /** per-sequence recurrent state (Mamba, Mamba-2: SSM state + conv state, f32); 0 for GPT-NeoX */
  stateBytes: number;
  /** KV cache bytes per token of context (GPT-NeoX: 2·layers·hidden, f32); 0 for Mamba */
  kvBytesPerToken: number;
  /** activations/scratch for a prefill of `prefillTokens` tokens (rough: the largest intermediate buffers) */
  activationBytes: number;
  /** weights + state + KV cache for `contextTokens` + activations */
  totalBytes: number;
  /** the largest single weight buffer (the embedding table), to compare with maxStorageBufferBindingSize */
  largestBufferBytes: number;
}

/**
 * Estimate GPU memory for a parsed config. `weightDtype`: how matrices are stored on the GPU (f16 = packed halves).
 * `contextTokens`: KV cache length to budget (default: max_position_embeddings for GPT-NeoX, 2048 otherwise).
 */
export function estimateGpuMemory(
  config: ModelConfig,
  opts: { weightDtype?: WeightDtype; contextTokens?: number; prefillTokens?: number } = {},
): GpuMemoryEstimate {
  const wBytes = opts.weightDtype === 'f16' ? 2 : 4;
  const prefill = opts.prefillTokens ?? 512;
  const F32 = 4;
  let matrixParams: number;
  let vectorParams: number;
  let stateBytes = 0;
  let kvBytesPerToken = 0;
  let activationBytes: number;
  const d = config.hiddenSize;
  const embBytes = config.vocabSize * d * wBytes;
  if (config.arch === 'mamba') {
    const D = config.intermediateSize, N = config.stateSize, R = config.timeStepRank, K = config.convKernel, L = config.numHiddenLayers;
    const total = mambaParams(config);
    vectorParams = L * (D * K + (config.useConvBias ? D : 0) + D + D * N + D + d + (config.useBias ? 2 * D + d : 0)) + d;
    matrixParams = total - vectorParams;
    stateBytes = L * (D * N + D * (K - 1)) * F32;
    // in_proj out [T, 2D], x_proj out [T, R+2N], dt [T, D], y [T, D], logits [1, V]
    activationBytes = prefill * (2 * D + R + 2 * N + 2 * D + 2 * d) * F32 + config.vocabSize * F32;
  } else if (config.arch === 'mamba2') {
    const dIn = config.intermediateSize, cd = config.convDim, h = config.numHeads, N = config.stateSize, K = config.convKernel, L = config.numHiddenLayers;
    const total = mamba2Params(config);
    vectorParams = L * (cd * K + (config.useConvBias ? cd : 0) + 3 * h + dIn + d + (config.useBias ? dIn + cd + h + d : 0)) + d;
    matrixParams = total - vectorParams;
    // layers × (h·p·n + conv state (k−1)·conv_dim)
    stateBytes = L * (dIn * N + (K - 1) * cd) * F32;
    // in_proj out [T, d_inner + conv_dim + h], conv out [T, conv_dim], y [T, d_inner] twice, residual, logits [1, V]
    activationBytes = prefill * (2 * dIn + 2 * cd + h + 2 * dIn + 2 * d) * F32 + config.vocabSize * F32;
  } else {
    const L = config.numHiddenLayers, F = config.intermediateSize;
    const total = gptNeoxParams(config);
    vectorParams = L * (4 * d + (config.attentionBias ? 4 * d : 0) + F + d) + 2 * d;
    matrixParams = total - vectorParams;
    kvBytesPerToken = 2 * L * d * F32;
    // qkv [T, 3d], scores [H, T, T] (if materialized), mlp [T, F], residuals
    activationBytes = prefill * (3 * d + F + 3 * d) * F32 + config.numAttentionHeads * prefill * prefill * F32 + config.vocabSize * F32;
  }
  const weightsBytes = matrixParams * wBytes + vectorParams * F32;
  const ctx = opts.contextTokens ?? (config.arch === 'gpt-neox' ? config.maxPositionEmbeddings : 2048);
  return {
    weightsBytes,
    stateBytes,
    kvBytesPerToken,
    activationBytes,
    totalBytes: weightsBytes + stateBytes + kvBytesPerToken * ctx + activationBytes,
    largestBufferBytes: embBytes,
  };
}

export function formatBytes(n: number | null): string {
  if (n === null) return '?';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

/** The URL of a model's file (convenience re-export for UI code). */
export { fileUrl };
