/**
 * Checks on a pasted document before it goes anywhere: empty, binary, or longer than the models/device can take.
 * The text is only ever shown as text (React text nodes / textarea value), never parsed as HTML.
 */
export type DocumentProblem = 'empty' | 'binary' | 'too-long' | 'too-short';

export interface DocumentCheck {
  ok: boolean;
  problem?: DocumentProblem;
  message: string;
  chars: number;
  /** Token count when known (from the model tokenizer), else an estimate (chars / 4). */
  tokens: number;
  tokensExact: boolean;
}

/** Fraction of characters that look like binary: NUL, other C0 controls except tab/newline/CR/FF, U+FFFD. */
export function binaryFraction(text: string): number {
  if (!text.length) return 0;
  const n = Math.min(text.length, 1 << 16);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0xfffd || (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12) || c === 127) bad++;
  }
  return bad / n;
}

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export interface CheckOptions {
  /** Exact token count from the tokenizer, when a model is loaded. */
  tokens?: number;
  /** Most tokens the loaded models / device can take in one prompt. */
  maxTokens: number;
  /** Fewest tokens a probe needs (e.g. the needle + question). */
  minTokens?: number;
}

export function checkDocument(text: string, opts: CheckOptions): DocumentCheck {
  const chars = text.length;
  const tokensExact = opts.tokens !== undefined;
  const tokens = opts.tokens ?? estimateTokens(text);
  const base = { chars, tokens, tokensExact };
  if (text.trim().length === 0) {
    return { ...base, ok: false, problem: 'empty', message: 'The document is empty: paste some text or pick a bundled document.' };
  }
  if (text.includes('\u0000') || binaryFraction(text) > 0.01) {
    return {
      ...base,
      ok: false,
      problem: 'binary',
      message: 'This looks like binary data, not text (it contains control or NUL characters). Paste plain text.',
    };
  }
  const approx = tokensExact ? '' : 'about ';
  if (tokens > opts.maxTokens) {
    return {
      ...base,
      ok: false,
      problem: 'too-long',
      message:
        `The document is ${approx}${tokens.toLocaleString('en-US')} tokens; the longest context the loaded models and this device ` +
        `can take is ${opts.maxTokens.toLocaleString('en-US')} tokens. Shorten it to fit.`,
    };
  }
  if (opts.minTokens !== undefined && tokens < opts.minTokens) {
    return {
      ...base,
      ok: false,
      problem: 'too-short',
      message: `The document is ${approx}${tokens} tokens; the probes need at least ${opts.minTokens}.`,
    };
  }
  return { ...base, ok: true, message: `${chars.toLocaleString('en-US')} characters, ${approx}${tokens.toLocaleString('en-US')} tokens.` };
}
