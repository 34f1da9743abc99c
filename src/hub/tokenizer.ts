// Text tokenizer over @huggingface/tokenizers (tokenizer.json + optional tokenizer_config.json): encode, decode, the
// end-of-sequence id, and streaming detokenization that emits text token by token without ever showing a half
// UTF-8 character (byte-level BPE splits multi-byte characters across tokens).

import { Tokenizer } from '@huggingface/tokenizers';

export class TokenizerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

type Json = Record<string, unknown>;

function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

export interface TextTokenizerOptions {
  /** eos id from config.json (used when the tokenizer files don't name an eos token) */
  eosTokenId?: number | null;
  bosTokenId?: number | null;
  /** apply transformers' " ," → "," style clean-up in decode (default false) */
  cleanUpTokenizationSpaces?: boolean;
}

export class TextTokenizer {
  private readonly tok: Tokenizer;
  /** id of the end-of-sequence token, or null if unknown */
  readonly eosId: number | null;
  readonly bosId: number | null;
  /** number of ids (model vocab + added tokens) */
  readonly vocabSize: number;
  private readonly cleanUp: boolean;

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown = null, opts: TextTokenizerOptions = {}) {
    let json = tokenizerJson;
    if (typeof json === 'string') {
      try {
        json = JSON.parse(json);
      } catch (e) {
        throw new TokenizerError(`tokenizer.json is not valid JSON (${(e as Error).message})`);
      }
    }
    if (!json || typeof json !== 'object' || !(json as Json).model || typeof (json as Json).model !== 'object') {
      throw new TokenizerError('tokenizer.json: missing "model" object; is this a Hugging Face tokenizers file?');
    }
    const cfg: Json = tokenizerConfig && typeof tokenizerConfig === 'object' ? { ...(tokenizerConfig as Json) } : {};
    // Decoded text is what the tokens spell (no " ," → "," clean-up), like the Rust tokenizers' decode; that also keeps
    // incremental decoding consistent with a full decode. (transformers' clean_up_tokenization_spaces is ignored
    // unless opts.cleanUpTokenizationSpaces.)
    this.cleanUp = opts.cleanUpTokenizationSpaces ?? false;
    const full = { ...(json as Json), added_tokens: (json as Json).added_tokens ?? [] };
    try {
      this.tok = new Tokenizer(full, cfg);
    } catch (e) {
      throw new TokenizerError(`tokenizer.json could not be loaded: ${(e as Error).message}`);
    }
    const vocab = this.tok.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;

    const idOf = (content: string | null) => (content === null ? undefined : this.tok.token_to_id(content));
    const eosName = tokenContent(cfg.eos_token);
    let eos = idOf(eosName) ?? opts.eosTokenId ?? undefined;
    if (eos === undefined) {
      for (const name of ['<|endoftext|>', '</s>', '<|end_of_text|>', '<eos>']) {
        eos = this.tok.token_to_id(name);
        if (eos !== undefined) break;
      }
    }
    this.eosId = eos ?? null;
    this.bosId = idOf(tokenContent(cfg.bos_token)) ?? opts.bosTokenId ?? null;
  }

  /** Token ids for `text` (special tokens per the tokenizer's post-processor, as Python's tokenizer(text) does). */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    if (text.length === 0) return [];
    return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  /**
   * Text for `ids`. Ids past the tokenizer's vocabulary (a model's padded embedding rows, e.g. 50277..50303 for
   * Pythia) decode to nothing rather than throwing mid-generation; negative or non-integer ids throw.
   */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    let known = ids as number[];
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0) throw new TokenizerError(`decode: ${id} is not a token id`);
      if (id >= this.vocabSize) {
        known = ids.filter((i) => i < this.vocabSize);
        break;
      }
    }
    if (known.length === 0) return '';
    return this.tok.decode(known, {
      skip_special_tokens: opts.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.cleanUp,
    });
  }

  /** The token string (e.g. 'Ġworld') for an id, for display. */
  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** A stateful streaming decoder: push ids one by one, get the text they add. */
  streamDecoder(opts: { skipSpecialTokens?: boolean } = {}): StreamDecoder {
    return new StreamDecoder(this, opts);
  }

  /**
   * Stateless variant: the text token `next` adds after `prev` — decode(prev+next) minus decode(prev), over a short
   * window of previous tokens. Returns '' while the text ends in an incomplete character (U+FFFD); such held-back text
   * is emitted with a later token. Prefer streamDecoder() when generating (it tracks what was emitted).
   */
  decodeNext(prev: readonly number[], next: number): string {
    const d = this.streamDecoder();
    // Replay a short window so byte-level pieces of one character are joined; everything before it was emitted.
    const start = Math.max(0, prev.length - 8);
    d.prime(prev.slice(start));
    return d.push(next);
  }
}

/**
 * Incremental detokenization (the approach of HF's TextStreamer / vLLM): keep the ids from `prefix` on; the new text
 * is decode(ids[prefix:]) minus decode(ids[prefix:read]). Text ending in U+FFFD (an incomplete UTF-8 sequence) is
 * held back until the following tokens complete it; flush() returns whatever is left at the end.
 */
export class StreamDecoder {
  private ids: number[] = [];
  private prefix = 0;
  private read = 0;
  private emitted = '';

  constructor(
    private readonly tok: TextTokenizer,
    private readonly opts: { skipSpecialTokens?: boolean } = {},
  ) {}

  /** Mark `ids` as already shown (e.g. the prompt), so only later tokens produce text. */
  prime(ids: readonly number[]): void {
    this.ids.push(...ids);
    // Keep a few tokens of context so characters split across the boundary decode correctly.
    this.prefix = Math.max(0, this.ids.length - 4);
    this.read = this.ids.length;
  }

  /** Add one id; returns the text it completes ('' while a character is still incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const dec = (a: number, b: number) => this.tok.decode(this.ids.slice(a, b), this.opts);
    const prefixText = dec(this.prefix, this.read);
    const newText = dec(this.prefix, this.ids.length);
    if (newText.length > prefixText.length && !newText.endsWith('\uFFFD')) {
      const delta = newText.slice(prefixText.length);
      this.prefix = this.read;
      this.read = this.ids.length;
      this.emitted += delta;
      return delta;
    }
    return '';
  }

  /** Text still held back (e.g. a trailing incomplete character, shown as U+FFFD). */
  flush(): string {
    const rest = this.tok.decode(this.ids.slice(this.prefix), this.opts).slice(this.tok.decode(this.ids.slice(this.prefix, this.read), this.opts).length);
    this.prefix = this.read = this.ids.length;
    this.emitted += rest;
    return rest;
  }

  /** All ids pushed or primed. */
  get tokens(): readonly number[] {
    return this.ids;
  }

  /** All text returned by push/flush so far. */
  get text(): string {
    return this.emitted;
  }
}

/** Build a tokenizer from the parsed files (tokenizer_config.json optional). */
export function loadTokenizer(tokenizerJson: unknown, tokenizerConfig?: unknown, opts?: TextTokenizerOptions): TextTokenizer {
  return new TextTokenizer(tokenizerJson, tokenizerConfig ?? null, opts);
}
