/**
 * Loss by position (a recall-lab probe): the model's negative log-likelihood of every next token of the document,
 * tiled to L tokens. Shows whether a model keeps using context further in (loss falling with position) or not.
 */
import type { Arch, LanguageModel } from '../models/types';
import { tileTokens } from '../recall/haystack';
import { mean, tokenNll } from '../recall/loss';
import type { LossCurve, TextTokenizer } from '../recall/types';
import { checkAbort } from './errors';

/** Per-token loss over `ids`: position t holds −log p(ids[t+1] | ids[0..t]); prefilled in chunks small enough that one
 *  chunk's logits (all rows come back) stay near 32 MB. The state is reset first. */
export async function tokenLosses(model: LanguageModel, ids: number[], signal: AbortSignal): Promise<number[]> {
  const V = model.vocabSize;
  const chunk = Math.max(1, Math.min(1024, Math.floor((32 << 20) / (V * 4))));
  model.reset();
  const out: number[] = [];
  for (let start = 0; start < ids.length; start += chunk) {
    checkAbort(signal);
    const n = Math.min(chunk, ids.length - start);
    const logits = await model.prefill(ids.slice(start, start + n), { allLogits: true });
    const nll = tokenNll(logits, V, n, ids.slice(start + 1, start + n + 1));
    for (let r = 0; r < n; r++) if (start + r + 1 < ids.length) out.push(nll[r]);
  }
  return out;
}

/** The loss curve of the model in `slot` over the document `docIds` tiled (blank-line separated) to `length` tokens. */
export async function lossCurve(
  slot: Arch, model: LanguageModel, tok: TextTokenizer, docIds: number[], length: number, signal: AbortSignal,
): Promise<LossCurve> {
  const losses = await tokenLosses(model, tileTokens(docIds, length, tok.encode('\n\n')), signal);
  return { arch: slot, length, losses, meanLoss: mean(losses), kernels: { ...model.kernels } };
}
