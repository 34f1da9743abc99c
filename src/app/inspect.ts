/**
 * Before a hub model is loaded: its config.json is read and checked (a supported architecture, in the slot of its
 * architecture), and the download is sized (the weight files' Content-Length, else parameters × bytes per parameter) and
 * looked up in the browser's cache, so the page can ask before it downloads anything large. Runs on the page (the
 * worker reads the same cached config.json when it loads).
 */
import { parseConfig, type ModelConfig } from '../hub/config';
import { CACHE_NAME, HubClient, HubError, fileUrl, sourceLabel, type ModelSource } from '../hub/hub';
import { countParams } from '../hub/registry';
import type { Arch } from '../models/types';

export interface ModelCheck {
  label: string;
  config: ModelConfig;
  params: number;
  /** The checkpoint's dtype as config.json states it (null when it does not). */
  dtype: string | null;
  /** Bytes to download: the weight files (from the server when it says, else estimated) + tokenizer and config. */
  downloadBytes: number;
  /** Whether downloadBytes came from the server (true) or from the parameter count (false). */
  sizeExact: boolean;
  /** Weights on the GPU (f16 checkpoints stay f16; f32 and bf16 become f32). */
  gpuBytes: number;
  /** Every weight file is in the browser's cache already (no download). */
  cached: boolean;
  /** max_position_embeddings for GPT-NeoX; null for Mamba and Mamba-2 (their configs do not record a training length). */
  trainedContext: number | null;
}

const SMALL_FILES_BYTES = 2_200_000; // tokenizer.json + config files

/** The slot a config's architecture loads into. */
const SLOT_OF: Record<ModelConfig['arch'], Arch> = { mamba: 'mamba', mamba2: 'mamba2', 'gpt-neox': 'transformer' };
const IS: Record<ModelConfig['arch'], string> = { mamba: 'a Mamba model', mamba2: 'a Mamba-2 model', 'gpt-neox': 'a GPT-NeoX (Transformer) model' };
const SIDE: Record<Arch, string> = { mamba: 'the Mamba side', mamba2: 'the Mamba-2 side', transformer: 'the Transformer side' };

/** An error for a model given in the slot of another architecture (a code explainLoadError knows). */
function wrongSide(label: string, arch: ModelConfig['arch'], side: Arch): Error {
  return Object.assign(new Error(`${label} is ${IS[arch]}, not a model for ${SIDE[side]}.`), { code: 'wrong-side' });
}

async function inCache(urls: string[]): Promise<boolean> {
  const c = (globalThis as { caches?: CacheStorage }).caches;
  if (!c || !urls.length) return false;
  try {
    const cache = await c.open(CACHE_NAME);
    for (const u of urls) if (!(await cache.match(u))) return false;
    return true;
  } catch {
    return false;
  }
}

export async function inspectModel(source: ModelSource, side: Arch, opts: { signal?: AbortSignal } = {}): Promise<ModelCheck> {
  const client = new HubClient();
  const label = sourceLabel(source);
  const json = await client.fetchJson<Record<string, unknown>>(source, 'config.json', { signal: opts.signal });
  const config = parseConfig(json, `config.json of ${label}`);
  if (SLOT_OF[config.arch] !== side) throw wrongSide(label, config.arch, side);
  const params = countParams(config);
  const dtype = typeof json.torch_dtype === 'string' ? json.torch_dtype : typeof json.dtype === 'string' ? json.dtype : null;
  const bytesPer = dtype === 'float16' || dtype === 'bfloat16' ? 2 : 4;
  let files: string[] = [];
  let exact: number | null = null;
  try {
    const list = await client.listFiles(source, opts);
    files = list.files;
    let total = 0;
    for (const f of files) {
      const n = await client.fileSize(source, f, opts);
      if (n === null) { total = NaN; break; }
      total += n;
    }
    if (Number.isFinite(total)) exact = total;
  } catch (e) {
    // No weights at all is an answer; a failed size probe is not (the estimate stands in).
    if (e instanceof HubError && e.code === 'not-found') throw e;
    if (opts.signal?.aborted) throw e;
  }
  return {
    label, config, params, dtype,
    downloadBytes: (exact ?? params * bytesPer) + SMALL_FILES_BYTES,
    sizeExact: exact !== null,
    gpuBytes: params * (dtype === 'float16' ? 2 : 4),
    cached: await inCache(files.map((f) => fileUrl(source, f))),
    trainedContext: config.arch === 'gpt-neox' ? config.maxPositionEmbeddings : null,
  };
}
