// Tokenizers from a companion repo: some model repos publish weights and config only and name another repo's
// tokenizer in their README. The Mamba authors' checkpoints (state-spaces/mamba-*, mamba2-*) use GPT-NeoX-20B's
// tokenizer ("The models were trained with the EleutherAI/gpt-neox-20b tokenizer", state-spaces/mamba's README).
// Used only when the model repo itself has no tokenizer.json.

export interface CompanionTokenizer {
  /** repos whose id starts with this (an org: 'state-spaces/') */
  prefix: string;
  /** the repo whose tokenizer.json (+ tokenizer_config.json) they use */
  tokenizerRepo: string;
}

export const COMPANION_TOKENIZERS: readonly CompanionTokenizer[] = [
  { prefix: 'state-spaces/', tokenizerRepo: 'EleutherAI/gpt-neox-20b' },
];

/** The repo to take the tokenizer from when `repo` has none, or null if none is known. */
export function companionTokenizerRepo(repo: string): string | null {
  return COMPANION_TOKENIZERS.find((c) => repo.startsWith(c.prefix))?.tokenizerRepo ?? null;
}
