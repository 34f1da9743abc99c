// A tiny hand-made byte-level BPE tokenizer.json (GPT-2 / GPT-NeoX style): id 0 = <|endoftext|>, ids 1..256 = the
// 256 byte symbols, then a few merges (including one that joins the two bytes of "é", while "🙂" stays 4 byte tokens).

export function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i])]));
}

export const TINY_MERGES: [string, string][] = [
  ['h', 'e'], ['l', 'l'], ['he', 'll'], ['hell', 'o'], ['Ġ', 'w'], ['o', 'r'], ['Ġw', 'or'], ['Ġ', 't'], ['Ġt', 'he'],
  ['Ã', '©'], ['c', 'a'], ['ca', 'f'], ['caf', 'Ã©'],
];

export function tinyTokenizerJson(): Record<string, unknown> {
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = { '<|endoftext|>': 0 };
  let id = 1;
  for (let b = 0; b < 256; b++) vocab[b2u.get(b)!] = id++;
  for (const [a, b] of TINY_MERGES) if (!(a + b in vocab)) vocab[a + b] = id++;
  const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: 0, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: null,
    pre_tokenizer: bl,
    post_processor: bl,
    decoder: bl,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, vocab,
      merges: TINY_MERGES.filter(([a, b]) => a + b in vocab).map(([a, b]) => `${a} ${b}`),
    },
  };
}

export const TINY_TOKENIZER_CONFIG = {
  bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', tokenizer_class: 'GPTNeoXTokenizer',
};
