/**
 * loadModel: config.json + tokenizer.json + weights (safetensors or PyTorch .bin) from a hub-layout source (the
 * Hugging Face hub, a local server, or the app's own /models/ folder) into a ready MambaModel, Mamba2Model or
 * GptNeoxModel. Weights stream straight into
 * GPU buffers as they download (WeightStore), with name/shape checks against the config.
 */
import type { GpuContext } from '../gpu/context';
import { HubClient, sourceLabel, type ModelSource, type WeightFormat } from '../hub/hub';
import { TextTokenizer } from '../hub/tokenizer';
import { loadModelFiles } from '../hub/weights';
import { GptNeoxModel, gptNeoxTensorSpecs } from './gptneox';
import { KernelOps } from './kernel-ops';
import { MambaModel, mambaTensorSpecs } from './mamba';
import { Mamba2Model, mamba2TensorSpecs } from './mamba2';
import type { LanguageModel } from './types';
import { WeightStore, type WeightStoreOptions } from './weights';

export interface LoadOptions extends WeightStoreOptions {
  signal?: AbortSignal;
  /** Per-file byte progress. */
  onProgress?: (p: { file: string; loaded: number; total: number | null; fromCache: boolean; done: boolean }) => void;
  client?: HubClient;
  /** where to take the tokenizer from when the source has none (default: its companion repo, e.g. state-spaces/* → EleutherAI/gpt-neox-20b) */
  tokenizerSource?: ModelSource;
}

export type LoadedModel = LanguageModel & {
  tokenizer: TextTokenizer;
  config: MambaModel['config'] | Mamba2Model['config'] | GptNeoxModel['config'];
  /** the repo the tokenizer came from when the model's own repo has none, else null */
  tokenizerFrom: string | null;
  /** the weight files read: format (model.safetensors or PyTorch's pytorch_model.bin) and names */
  weightFiles: { format: WeightFormat; files: string[] };
};

export async function loadModel(ctx: GpuContext, source: ModelSource, opts: LoadOptions = {}): Promise<LoadedModel> {
  const files = await loadModelFiles(source, { client: opts.client, signal: opts.signal, tokenizerSource: opts.tokenizerSource });
  const { config } = files;
  const specs = config.arch === 'mamba' ? mambaTensorSpecs(config) : config.arch === 'mamba2' ? mamba2TensorSpecs(config) : gptNeoxTensorSpecs(config);
  const store = new WeightStore(ctx, specs, opts);
  try {
    await files.loadWeights(store, {
      signal: opts.signal,
      onProgress: (p) => opts.onProgress?.({
        file: p.file, loaded: p.fileLoaded, total: p.fileTotal, fromCache: p.fromCache,
        done: p.fileTotal !== null && p.fileLoaded >= p.fileTotal,
      }),
    });
    store.finish();
  } catch (e) {
    store.destroy();
    throw e;
  }
  const tokenizer = new TextTokenizer(files.tokenizerJson, files.tokenizerConfig, { eosTokenId: config.eosTokenId ?? undefined });
  const ops = new KernelOps(ctx);
  const name = sourceLabel(source);
  const model = config.arch === 'mamba' ? new MambaModel(ctx, ops, store, config, name)
    : config.arch === 'mamba2' ? new Mamba2Model(ctx, ops, store, config, name)
    : new GptNeoxModel(ctx, ops, store, config, name);
  const weightFiles = { format: files.weightFiles.format, files: files.weightFiles.files.slice() };
  return Object.assign(model, { tokenizer, tokenizerFrom: files.tokenizerFrom, weightFiles });
}
