/**
 * The worker's `load` job: one model from a source into a slot, its byte progress summed over its files (posted at
 * most every 100 ms), and the ModelInfo the page shows. A model of another architecture than the slot is refused.
 */
import type { GpuContext } from '../gpu/context';
import { GpuError } from '../gpu/errors';
import { loadModel } from '../models/load';
import { sourceLabel, type ModelSource } from '../hub/hub';
import type { Arch } from '../models/types';
import { Cancelled } from '../engine/errors';
import type { TokenizedModel } from '../engine/events';
import { eosOf } from '../engine/generate';
import { ARCH_NAME } from '../engine/run';
import type { LoadProgress, ModelInfo } from './protocol';

type FileProgress = { loaded: number; total: number | null; fromCache: boolean };

const now = () => performance.now();

/** Loads a model for `slot`; the caller places it (live or staged). */
export async function loadSlot(
  ctx: GpuContext, slot: Arch, source: ModelSource, signal: AbortSignal, onProgress: (p: LoadProgress) => void,
): Promise<{ model: TokenizedModel; info: ModelInfo }> {
  const files = new Map<string, FileProgress>();
  let lastPost = 0;
  const t0 = now();
  const progress = (q: FileProgress & { file: string; done: boolean }) => {
    files.set(q.file, { loaded: q.loaded, total: q.total, fromCache: q.fromCache });
    if (now() - lastPost < 100 && !q.done) return;
    lastPost = now();
    const all = [...files.values()];
    const total = all.reduce<number | null>((t, f) => (t === null || f.total === null ? null : t + f.total), 0);
    onProgress({ slot, file: q.file, loaded: all.reduce((t, f) => t + f.loaded, 0), total, fromCache: all.every((f) => f.fromCache) });
  };
  const model: TokenizedModel & { tokenizerFrom?: string | null; weightFiles?: ModelInfo['weights'] } = await loadModel(ctx, source, { signal, onProgress: progress });
  if (signal.aborted || model.arch !== slot) {
    model.dispose();
    if (signal.aborted) throw new Cancelled();
    throw new GpuError('validation', `${sourceLabel(source)} is a ${ARCH_NAME[model.arch]} model, not a ${ARCH_NAME[slot]} model`);
  }
  const info: ModelInfo = {
    arch: model.arch, name: model.name, source: sourceLabel(source),
    tokenizerFrom: model.tokenizerFrom ?? null, weights: model.weightFiles, vocabSize: model.vocabSize, maxContext: model.maxContext,
    memory: model.memory(), eosId: eosOf(model), loadMs: now() - t0, fromCache: files.size > 0 && [...files.values()].every((f) => f.fromCache),
    trainedContext: trainedContextOf(model),
  };
  return { model, info };
}

/** The context a model was trained on, where its config records it (GPT-NeoX max_position_embeddings). */
function trainedContextOf(m: TokenizedModel): number | null {
  const c = (m as { config?: { arch?: string; maxPositionEmbeddings?: number } }).config;
  return c?.arch === 'gpt-neox' && c.maxPositionEmbeddings ? c.maxPositionEmbeddings : null;
}
