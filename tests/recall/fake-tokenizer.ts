import type { TextTokenizer } from '../../src/recall/types';

/** Character-level tokenizer: one token per UTF-16 code unit. Enough to test probe construction without a model. */
export const charTokenizer: TextTokenizer = {
  encode: (text) => Array.from(text, (c) => c.charCodeAt(0)),
  decode: (ids) => String.fromCharCode(...ids),
};
