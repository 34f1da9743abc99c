// Getting a model into memory: config.json + tokenizer files + safetensors weights (single or sharded), with the
// weights streamed tensor by tensor into a WeightSink (so the model can upload each to the GPU as it arrives), and
// name/shape validation against what the config implies — checked against each file's header before its weights are
// downloaded, so a mismatch fails fast with a clear message. Checkpoint tensor names are mapped onto the names the
// model code uses (canonicalTensorName: the GPT-NeoX head saved as `lm_head.weight` or `embed_out.weight`, base
// models saved without their prefix, mamba_ssm's `embedding`), so every layout transformers itself loads is accepted.

import { parseConfig, type GptNeoxConfig, type Mamba2Config, type MambaConfig, type ModelConfig } from './config';
import { toF16Packed, toF32, type FloatDtype } from './dtype';
import { companionTokenizerRepo } from './companion';
import { HubClient, HubError, sourceLabel, type FileProgress, type ModelSource, type WeightFiles } from './hub';
import { SafetensorsError, abortError, streamSafetensors } from './safetensors';
import { streamTorchBin } from './torch-bin';

/** Receives each tensor as it streams in, under the model's name (canonicalTensorName). `bytes` is little-endian in the checkpoint's dtype, owned by the sink. */
export interface WeightSink {
  accept(name: string, dtype: FloatDtype, shape: number[], bytes: Uint8Array): void | Promise<void>;
}

export interface TensorSpec {
  /** the shape in the checkpoint */
  shape: number[];
  /** may be absent (e.g. lm_head.weight when embeddings are tied) */
  optional?: boolean;
  /**
   * The model takes only the first keepRows rows (mamba_ssm's padded vocab: the embedding and head hold
   * paddedVocabSize rows, the model vocabSize); the sink gets shape [keepRows, ...] and those rows' bytes.
   */
  keepRows?: number;
}

export class WeightError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightError';
  }
}

/**
 * Every tensor a config implies, with its shape, under the names the model code uses (transformers' names, GPT-NeoX's
 * head as `embed_out.weight`). A tied head is not listed: it is the input embedding (a copy in the file is ignored).
 */
export function expectedTensors(config: ModelConfig): Map<string, TensorSpec> {
  if (config.arch === 'mamba') return mambaTensors(config);
  if (config.arch === 'mamba2') return mamba2Tensors(config);
  return gptNeoxTensors(config);
}

/** Mamba2ForCausalLM: in_proj → [z (d_inner) | x, B, C (conv_dim) | dt (h)]; per-head A_log, D, dt_bias. */
function mamba2Tensors(c: Mamba2Config): Map<string, TensorSpec> {
  const m = new Map<string, TensorSpec>();
  const d = c.hiddenSize, dIn = c.intermediateSize, cd = c.convDim, h = c.numHeads, K = c.convKernel, V = c.vocabSize;
  const proj = dIn + cd + h;
  m.set('backbone.embeddings.weight', { shape: [V, d] });
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `backbone.layers.${i}`;
    m.set(`${p}.norm.weight`, { shape: [d] });
    m.set(`${p}.mixer.in_proj.weight`, { shape: [proj, d] });
    if (c.useBias) m.set(`${p}.mixer.in_proj.bias`, { shape: [proj] });
    m.set(`${p}.mixer.conv1d.weight`, { shape: [cd, 1, K] });
    if (c.useConvBias) m.set(`${p}.mixer.conv1d.bias`, { shape: [cd] });
    m.set(`${p}.mixer.dt_bias`, { shape: [h] });
    m.set(`${p}.mixer.A_log`, { shape: [h] });
    m.set(`${p}.mixer.D`, { shape: [h] });
    m.set(`${p}.mixer.norm.weight`, { shape: [dIn] });
    m.set(`${p}.mixer.out_proj.weight`, { shape: [d, dIn] });
    if (c.useBias) m.set(`${p}.mixer.out_proj.bias`, { shape: [d] });
  }
  m.set('backbone.norm_f.weight', { shape: [d] });
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', { shape: [V, d] });
  return m;
}

function mambaTensors(c: MambaConfig): Map<string, TensorSpec> {
  const m = new Map<string, TensorSpec>();
  const d = c.hiddenSize, D = c.intermediateSize, N = c.stateSize, R = c.timeStepRank, K = c.convKernel, V = c.paddedVocabSize;
  const keep = c.paddedVocabSize > c.vocabSize ? { keepRows: c.vocabSize } : {};
  m.set('backbone.embeddings.weight', { shape: [V, d], ...keep });
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `backbone.layers.${i}`;
    m.set(`${p}.norm.weight`, { shape: [d] });
    m.set(`${p}.mixer.in_proj.weight`, { shape: [2 * D, d] });
    if (c.useBias) m.set(`${p}.mixer.in_proj.bias`, { shape: [2 * D] });
    m.set(`${p}.mixer.conv1d.weight`, { shape: [D, 1, K] });
    if (c.useConvBias) m.set(`${p}.mixer.conv1d.bias`, { shape: [D] });
    m.set(`${p}.mixer.x_proj.weight`, { shape: [R + 2 * N, D] });
    m.set(`${p}.mixer.dt_proj.weight`, { shape: [D, R] });
    m.set(`${p}.mixer.dt_proj.bias`, { shape: [D] });
    m.set(`${p}.mixer.A_log`, { shape: [D, N] });
    m.set(`${p}.mixer.D`, { shape: [D] });
    m.set(`${p}.mixer.out_proj.weight`, { shape: [d, D] });
    if (c.useBias) m.set(`${p}.mixer.out_proj.bias`, { shape: [d] });
  }
  m.set('backbone.norm_f.weight', { shape: [d] });
  if (!c.tieWordEmbeddings) m.set('lm_head.weight', { shape: [V, d], ...keep });
  return m;
}

function gptNeoxTensors(c: GptNeoxConfig): Map<string, TensorSpec> {
  const m = new Map<string, TensorSpec>();
  const d = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize;
  m.set('gpt_neox.embed_in.weight', { shape: [V, d] });
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `gpt_neox.layers.${i}`;
    for (const ln of ['input_layernorm', 'post_attention_layernorm']) {
      m.set(`${p}.${ln}.weight`, { shape: [d] });
      m.set(`${p}.${ln}.bias`, { shape: [d] });
    }
    m.set(`${p}.attention.query_key_value.weight`, { shape: [3 * d, d] });
    if (c.attentionBias) m.set(`${p}.attention.query_key_value.bias`, { shape: [3 * d] });
    m.set(`${p}.attention.dense.weight`, { shape: [d, d] });
    if (c.attentionBias) m.set(`${p}.attention.dense.bias`, { shape: [d] });
    m.set(`${p}.mlp.dense_h_to_4h.weight`, { shape: [F, d] });
    m.set(`${p}.mlp.dense_h_to_4h.bias`, { shape: [F] });
    m.set(`${p}.mlp.dense_4h_to_h.weight`, { shape: [d, F] });
    m.set(`${p}.mlp.dense_4h_to_h.bias`, { shape: [d] });
  }
  m.set('gpt_neox.final_layer_norm.weight', { shape: [d] });
  m.set('gpt_neox.final_layer_norm.bias', { shape: [d] });
  if (!c.tieWordEmbeddings) m.set('embed_out.weight', { shape: [V, d] });
  return m;
}

/**
 * The name the model code uses for a checkpoint tensor. Checkpoints spell some tensors differently, and transformers
 * loads them all (its key renames and base-model prefix handling), so we do too:
 * - GPT-NeoX: the output head is `lm_head.weight` in transformers ≥ 5.14's modules (what a saved state_dict holds)
 *   and `embed_out.weight` in older checkpoints (Pythia on the hub): both → `embed_out.weight`.
 * - A base model saved on its own (GPTNeoXModel / MambaModel: no `gpt_neox.` / `backbone.` prefix) → prefixed.
 * - Mamba: mamba_ssm's `backbone.embedding.weight` → `backbone.embeddings.weight` (transformers' load hook does the
 *   same).
 * Names not listed are returned unchanged.
 */
export function canonicalTensorName(config: ModelConfig, name: string): string {
  if (config.arch === 'gpt-neox') {
    if (name === 'lm_head.weight') return 'embed_out.weight';
    if (/^(embed_in|layers|final_layer_norm|rotary_emb)\./.test(name)) return `gpt_neox.${name}`;
    return name;
  }
  if (/^(embeddings?|layers|norm_f)\./.test(name)) name = `backbone.${name}`;
  if (name === 'backbone.embedding.weight') return 'backbone.embeddings.weight';
  return name;
}

/**
 * Tensors (canonical names) a checkpoint may carry that the model doesn't use (never downloaded into memory): old
 * GPT-NeoX checkpoints (Pythia) store per-layer causal-mask buffers (`attention.bias`, bool [1,1,P,P]),
 * `attention.masked_bias` and `attention.rotary_emb.inv_freq` (newer ones may carry `gpt_neox.rotary_emb.inv_freq`);
 * a tied head saved anyway is the input embedding (transformers ties it on load, whatever the file holds).
 */
export function isIgnoredTensor(config: ModelConfig, name: string): boolean {
  if (config.arch === 'gpt-neox') {
    if (config.tieWordEmbeddings && name === 'embed_out.weight') return true;
    return /^gpt_neox\.layers\.\d+\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/.test(name) || /^gpt_neox\.rotary_emb\.inv_freq$/.test(name);
  }
  return config.tieWordEmbeddings && name === 'lm_head.weight';
}

function fmtShape(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Validates tensor names and shapes against the config: expectTensor() per tensor (throws on a shape mismatch or a
 * tensor present twice under any of its spellings), assertComplete() at the end (throws listing missing tensors).
 * Names are checkpoint names; canonical() gives the model's. Unknown names are recorded, not fatal.
 */
export class WeightExpectations {
  readonly expected: Map<string, TensorSpec>;
  /** canonical name → the checkpoint name it was read under */
  readonly seen = new Map<string, string>();
  readonly unexpected: string[] = [];
  readonly ignored: string[] = [];
  /** [checkpoint name, canonical name] for tensors read under another spelling */
  readonly renamed: [string, string][] = [];

  constructor(readonly config: ModelConfig) {
    this.expected = expectedTensors(config);
  }

  canonical(name: string): string {
    return canonicalTensorName(this.config, name);
  }

  /** Whether the model wants this checkpoint tensor's bytes. */
  wants(name: string): boolean {
    return this.expected.has(this.canonical(name));
  }

  /** Check one tensor (checkpoint name); `file` is named in errors. Returns false for tensors the model doesn't use. */
  expectTensor(name: string, shape: readonly number[], file = 'model.safetensors'): boolean {
    const canon = this.canonical(name);
    const spec = this.expected.get(canon);
    if (!spec) {
      if (isIgnoredTensor(this.config, canon)) this.ignored.push(name);
      else this.unexpected.push(name);
      return false;
    }
    const as = canon === name ? name : `${name} (read as ${canon})`;
    if (!sameShape(spec.shape, shape)) {
      throw new WeightError(`${file}: tensor ${as} has shape ${fmtShape(shape)}, config expects ${fmtShape(spec.shape)}`);
    }
    const before = this.seen.get(canon);
    if (before !== undefined) {
      throw new WeightError(before === name
        ? `${file}: tensor ${name} appears twice in the checkpoint`
        : `${file}: the checkpoint has both ${before} and ${name}, two spellings of ${canon}`);
    }
    this.seen.set(canon, name);
    if (canon !== name) this.renamed.push([name, canon]);
    return true;
  }

  /** Check a whole header (safetensors, or a .bin's tensor list) up front, before its weights are downloaded. */
  expectHeader(header: { fileName: string; tensors: readonly { name: string; shape: number[] }[] }): void {
    for (const t of header.tensors) this.expectTensor(t.name, t.shape, header.fileName);
  }

  /**
   * What the model gets of a checkpoint tensor (model name): the rows it keeps (TensorSpec.keepRows), else the
   * tensor as it is. The bytes are a view, not a copy.
   */
  toModel(canon: string, shape: number[], bytes: Uint8Array): { shape: number[]; bytes: Uint8Array } {
    const keep = this.expected.get(canon)?.keepRows;
    if (keep === undefined || keep >= shape[0]) return { shape, bytes };
    const rowBytes = bytes.byteLength / shape[0];
    return { shape: [keep, ...shape.slice(1)], bytes: bytes.subarray(0, keep * rowBytes) };
  }

  missing(): string[] {
    return [...this.expected].filter(([n, s]) => !s.optional && !this.seen.has(n)).map(([n]) => n);
  }

  assertComplete(where = 'checkpoint'): void {
    const missing = this.missing();
    if (missing.length) {
      const arch = { mamba: 'Mamba', mamba2: 'Mamba-2', 'gpt-neox': 'GPT-NeoX' }[this.config.arch];
      const alias = (n: string) => (n === 'embed_out.weight' ? 'embed_out.weight (or lm_head.weight)' : n);
      throw new WeightError(
        `${where}: ${missing.length} tensor(s) the ${arch} config needs are missing: ${missing.slice(0, 6).map(alias).join(', ')}` +
          (missing.length > 6 ? `, … (${missing.length - 6} more)` : '') +
          (this.unexpected.length ? `; the file has unexpected tensors such as ${this.unexpected.slice(0, 3).join(', ')}` : ''),
      );
    }
  }
}

/**
 * Check one received tensor (checkpoint name) against what the config implies (a one-shot form of
 * WeightExpectations.expectTensor): throws "FILE: tensor NAME has shape [..], config expects [..]" or, for a name the
 * config doesn't know, "FILE: unexpected tensor NAME".
 */
export function expectTensor(config: ModelConfig, name: string, shape: readonly number[], file = 'model.safetensors'): void {
  const canon = canonicalTensorName(config, name);
  const spec = expectedTensors(config).get(canon);
  if (!spec) throw new WeightError(`${file}: unexpected tensor ${name} with shape ${fmtShape(shape)} for a ${config.arch} model`);
  if (!sameShape(spec.shape, shape)) {
    const as = canon === name ? name : `${name} (read as ${canon})`;
    throw new WeightError(`${file}: tensor ${as} has shape ${fmtShape(shape)}, config expects ${fmtShape(spec.shape)}`);
  }
}

/**
 * A sink adapter that converts each tensor before handing it on: 'f32' → Float32Array; 'f16' → packed f16 pairs
 * (Uint32Array, low half = even element) for matrices (≥ 2-D) and Float32Array for 1-D params when
 * `keepVectorsF32` (default true).
 */
export function convertingSink(
  target: 'f32' | 'f16',
  accept: (name: string, shape: number[], data: Float32Array | Uint32Array, kind: 'f32' | 'f16-packed') => void | Promise<void>,
  opts: { keepVectorsF32?: boolean } = {},
): WeightSink {
  const keep = opts.keepVectorsF32 ?? true;
  return {
    accept(name, dtype, shape, bytes) {
      if (target === 'f16' && !(keep && shape.length <= 1)) return accept(name, shape, toF16Packed(dtype, bytes), 'f16-packed');
      return accept(name, shape, toF32(dtype, bytes), 'f32');
    },
  };
}

export type LoadPhase = 'config' | 'tokenizer' | 'weights' | 'done';

export interface LoadProgress {
  phase: LoadPhase;
  /** the file being read */
  file: string;
  fileLoaded: number;
  fileTotal: number | null;
  /** weight bytes read so far over all weight files, and their total when known */
  weightsLoaded: number;
  weightsTotal: number | null;
  fromCache: boolean;
}

export interface WeightLoadReport {
  files: string[];
  /** tensors handed to the sink (the model's names), in order */
  tensors: string[];
  /** [checkpoint name, model name] for tensors the checkpoint spells differently (e.g. lm_head.weight → embed_out.weight) */
  renamed: [string, string][];
  /** tensors skipped as unused (e.g. Pythia's attention masks, a tied head saved anyway) */
  ignored: string[];
  /** tensors the config doesn't know (skipped) */
  unexpected: string[];
  bytesRead: number;
  fromCache: boolean;
}

export interface ModelFiles {
  source: ModelSource;
  config: ModelConfig;
  /** config.json as parsed JSON */
  rawConfig: Record<string, unknown>;
  tokenizerJson: unknown;
  tokenizerConfig: Record<string, unknown> | null;
  /** where tokenizer.json came from: the model's own source, or a companion repo (see tokenizerFrom) */
  tokenizerSource: ModelSource;
  /** the companion repo's label when the model repo has no tokenizer of its own (state-spaces/* → EleutherAI/gpt-neox-20b), else null */
  tokenizerFrom: string | null;
  weightFiles: WeightFiles;
  /** sizes of the weight files when the server says (HEAD / cache), else null */
  weightBytes: number | null;
  /** Stream all weights into `sink`; validates names/shapes against the config; rejects on abort. */
  loadWeights(sink: WeightSink, opts?: LoadOptions): Promise<WeightLoadReport>;
  /** The same stream as an async iterable (each tensor is produced when the previous one has been consumed). */
  tensors(opts?: LoadOptions): AsyncIterable<{ name: string; dtype: FloatDtype; shape: number[]; bytes: Uint8Array }>;
}

export interface LoadOptions {
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
}

export interface LoadModelOptions extends LoadOptions {
  client?: HubClient;
  /**
   * Where to take the tokenizer from when the model's source has no tokenizer.json (default: the companion repo
   * companionTokenizerRepo() names for hub repos, on the same server).
   */
  tokenizerSource?: ModelSource;
  /** when given, weights are streamed into it before loadModelFiles resolves */
  sink?: WeightSink;
}

async function optionalJson(client: HubClient, source: ModelSource, file: string, opts: LoadOptions): Promise<Record<string, unknown> | null> {
  try {
    return await client.fetchJson<Record<string, unknown>>(source, file, { signal: opts.signal, cacheNotFound: true });
  } catch (e) {
    if (e instanceof HubError && e.code === 'not-found') return null;
    throw e;
  }
}

/**
 * tokenizer.json (+ tokenizer_config.json) of the model, or, when its source has none, of opts.tokenizerSource or the
 * companion repo companionTokenizerRepo() names (a hub repo on the same server, revision main).
 */
async function loadTokenizerFiles(
  client: HubClient, source: ModelSource, opts: LoadModelOptions, onProgress: (p: FileProgress) => void,
): Promise<{ json: unknown; config: Record<string, unknown> | null; source: ModelSource; from: string | null }> {
  try {
    const [json, config] = await Promise.all([
      client.fetchJson(source, 'tokenizer.json', { signal: opts.signal, onProgress, cacheNotFound: true }),
      optionalJson(client, source, 'tokenizer_config.json', opts),
    ]);
    return { json, config, source, from: null };
  } catch (e) {
    if (!(e instanceof HubError && e.code === 'not-found')) throw e;
    let companion = opts.tokenizerSource ?? null;
    if (!companion && source.kind === 'hub') {
      const repo = companionTokenizerRepo(source.repo);
      if (repo) companion = { kind: 'hub', repo, baseUrl: source.baseUrl };
    }
    if (!companion) {
      throw new HubError(
        `${sourceLabel(source)} has no tokenizer.json, and no companion repo to take one from is known for it ` +
          `(${e.message})`, 'not-found', e.url, 404,
      );
    }
    const where = sourceLabel(companion);
    try {
      const [json, config] = await Promise.all([
        client.fetchJson(companion, 'tokenizer.json', { signal: opts.signal, onProgress }),
        optionalJson(client, companion, 'tokenizer_config.json', opts),
      ]);
      return { json, config, source: companion, from: where };
    } catch (e2) {
      if (e2 instanceof HubError && e2.code === 'not-found') {
        throw new HubError(`${sourceLabel(source)} has no tokenizer.json, nor has its tokenizer repo ${where}: ${e2.message}`, 'not-found', e2.url, 404);
      }
      throw e2;
    }
  }
}

/**
 * Fetch config.json, tokenizer.json (+ tokenizer_config.json if present) and the weight file list; returns them with
 * loadWeights()/tensors() to stream the weights. With `sink`, also streams the weights before returning.
 */
export async function loadModelFiles(source: ModelSource, opts: LoadModelOptions = {}): Promise<ModelFiles & { report?: WeightLoadReport }> {
  const client = opts.client ?? new HubClient();
  const label = sourceLabel(source);
  const small = (phase: LoadPhase) => (p: FileProgress) =>
    opts.onProgress?.({ phase, file: p.file, fileLoaded: p.loaded, fileTotal: p.total, weightsLoaded: 0, weightsTotal: null, fromCache: p.fromCache });

  const [rawConfig, tokenizer, weightFiles] = await Promise.all([
    client.fetchJson<Record<string, unknown>>(source, 'config.json', { signal: opts.signal, onProgress: small('config') }),
    loadTokenizerFiles(client, source, opts, small('tokenizer')),
    client.listFiles(source, { signal: opts.signal }),
  ]);
  const { json: tokenizerJson, config: tokenizerConfig, source: tokenizerSource, from: tokenizerFrom } = tokenizer;
  const config = parseConfig(rawConfig, `config.json of ${label}`);

  let weightBytes: number | null = 0;
  for (const f of weightFiles.files) {
    const n = await client.fileSize(source, f, { signal: opts.signal }).catch(() => null);
    if (n === null) {
      weightBytes = null;
      break;
    }
    weightBytes += n;
  }

  const loadWeights = async (sink: WeightSink, lo: LoadOptions = {}): Promise<WeightLoadReport> => {
    const signal = lo.signal ?? opts.signal;
    const onProgress = lo.onProgress ?? opts.onProgress;
    const exp = new WeightExpectations(config);
    const tensors: string[] = [];
    let done = 0; // bytes of finished files
    let bytesRead = 0;
    let allCached = true;
    for (const file of weightFiles.files) {
      if (signal?.aborted) throw abortError(signal, `loading ${label}`);
      let fileLoaded = 0;
      const hf = await client.fetchFile(source, file, {
        signal,
        onProgress: (p) => {
          fileLoaded = p.loaded;
          onProgress?.({
            phase: 'weights', file, fileLoaded: p.loaded, fileTotal: p.total,
            weightsLoaded: done + p.loaded, weightsTotal: weightBytes, fromCache: p.fromCache,
          });
        },
      });
      allCached &&= hf.fromCache;
      const fileName = `${file} of ${label}`;
      const stream = {
        fileName,
        totalBytes: hf.size,
        signal,
        filter: (t: { name: string }) => exp.wants(t.name),
        onHeader: (h: { tensors: readonly { name: string; shape: number[] }[] }) => {
          if (weightFiles.kind === 'sharded') {
            for (const t of h.tensors) {
              const mapped = weightFiles.index.weightMap.get(t.name);
              if (mapped !== undefined && mapped !== file) {
                throw new SafetensorsError(`${fileName}: tensor "${t.name}" is here, but the index says it is in ${mapped}`);
              }
            }
          }
          exp.expectHeader({ fileName, tensors: h.tensors });
        },
        onTensor: async (name: string, dtype: FloatDtype, shape: number[], bytes: Uint8Array) => {
          const canon = exp.canonical(name); // the sink gets the model's name (and only the rows it uses)
          const t = exp.toModel(canon, shape, bytes);
          await sink.accept(canon, dtype, t.shape, t.bytes);
          tensors.push(canon);
        },
      };
      const res = weightFiles.format === 'pytorch' ? await streamTorchBin(hf.body, stream) : await streamSafetensors(hf.body, stream);
      bytesRead += res.bytesRead;
      done += fileLoaded;
      await hf.cacheWrite;
    }
    exp.assertComplete(weightFiles.kind === 'sharded' ? `sharded checkpoint of ${label}` : `${weightFiles.files[0]} of ${label}`);
    onProgress?.({ phase: 'done', file: '', fileLoaded: 0, fileTotal: null, weightsLoaded: done, weightsTotal: weightBytes ?? done, fromCache: allCached });
    return { files: weightFiles.files, tensors, renamed: exp.renamed, ignored: exp.ignored, unexpected: exp.unexpected, bytesRead, fromCache: allCached };
  };

  const tensorsIter = (lo: LoadOptions = {}) => ({
    [Symbol.asyncIterator]() {
      return iterateWeights(loadWeights, lo);
    },
  });

  const files: ModelFiles & { report?: WeightLoadReport } = {
    source, config, rawConfig, tokenizerJson, tokenizerConfig, tokenizerSource, tokenizerFrom, weightFiles, weightBytes, loadWeights,
    tensors: tensorsIter,
  };
  if (opts.sink) files.report = await loadWeights(opts.sink, opts);
  return files;
}

type TensorItem = { name: string; dtype: FloatDtype; shape: number[]; bytes: Uint8Array };

/** Bridge the callback stream to an async iterator with a one-slot hand-off (the producer waits for the consumer). */
function iterateWeights(
  load: (sink: WeightSink, lo: LoadOptions) => Promise<WeightLoadReport>,
  lo: LoadOptions,
): AsyncIterator<TensorItem> {
  let slot: { item: TensorItem; taken: () => void } | null = null;
  let waiting: ((v: IteratorResult<TensorItem>) => void) | null = null;
  let failed: ((e: unknown) => void) | null = null;
  let finished = false;
  let error: unknown = null;
  const ctl = new AbortController();
  const signal = lo.signal ? AbortSignal.any([lo.signal, ctl.signal]) : ctl.signal;
  const run = load(
    {
      accept: (name, dtype, shape, bytes) =>
        new Promise<void>((taken) => {
          const item = { name, dtype, shape, bytes };
          if (waiting) {
            const w = waiting;
            waiting = failed = null;
            w({ value: item, done: false });
            taken();
          } else slot = { item, taken };
        }),
    },
    { ...lo, signal },
  );
  run.then(
    () => {
      finished = true;
      if (waiting) waiting({ value: undefined, done: true });
    },
    (e) => {
      finished = true;
      error = e;
      if (failed) failed(e);
    },
  );
  return {
    next() {
      if (slot) {
        const s: { item: TensorItem; taken: () => void } = slot;
        slot = null;
        s.taken();
        return Promise.resolve({ value: s.item, done: false });
      }
      if (error) return Promise.reject(error);
      if (finished) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => {
        waiting = resolve;
        failed = reject;
      });
    },
    async return() {
      if (!finished) {
        ctl.abort();
        const s = slot as { taken: () => void } | null;
        slot = null;
        s?.taken();
        await run.catch(() => {});
      }
      return { value: undefined, done: true };
    },
  };
}
