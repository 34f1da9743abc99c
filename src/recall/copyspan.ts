/**
 * Copy-span probe: a span from earlier in the document; its first `prefixLen` tokens are repeated at the end and the
 * model must continue with the next `contLen` tokens. Scored by exact-match tokens (position by position).
 */
import { tileTokens } from './haystack';

export interface CopyProbe {
  ids: number[];
  expected: number[];
  /** Where the span starts in the context. */
  spanStart: number;
  prefixLen: number;
  depth: number;
  length: number;
}

export interface CopyOptions {
  prefixLen?: number;
  contLen?: number;
  separator?: number[];
}

export function copyMinLength(opts: CopyOptions = {}): number {
  const p = opts.prefixLen ?? 16;
  const c = opts.contLen ?? 16;
  return p * 2 + c + 8;
}

export function buildCopySpan(docIds: number[], length: number, depth: number, opts: CopyOptions = {}): CopyProbe {
  if (depth < 0 || depth > 1) throw new RangeError(`depth must be in [0, 1], got ${depth}`);
  const prefixLen = opts.prefixLen ?? 16;
  const contLen = opts.contLen ?? 16;
  const min = copyMinLength({ prefixLen, contLen });
  if (length < min) throw new RangeError(`A copy-span probe needs at least ${min} tokens; asked for ${length}`);
  const ctxLen = length - prefixLen;
  const ctx = tileTokens(docIds, ctxLen, opts.separator ?? []);
  const spanLen = prefixLen + contLen;
  const spanStart = Math.round(depth * (ctxLen - spanLen));
  const span = ctx.slice(spanStart, spanStart + spanLen);
  return { ids: [...ctx, ...span.slice(0, prefixLen)], expected: span.slice(prefixLen), spanStart, prefixLen, depth, length };
}

export function scoreCopy(generated: number[], expected: number[]): { score: number; matched: number; prefixMatched: number } {
  let matched = 0;
  let prefixMatched = 0;
  let prefixOk = true;
  for (let i = 0; i < expected.length; i++) {
    const ok = generated[i] === expected[i];
    if (ok) matched++;
    if (ok && prefixOk) prefixMatched++;
    else prefixOk = false;
  }
  return { score: expected.length ? matched / expected.length : 0, matched, prefixMatched };
}
