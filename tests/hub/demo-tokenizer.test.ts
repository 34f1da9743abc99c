/**
 * The demo models' tokenizer splits digits one per token (tools/lm_common.py: Split on [0-9], then ByteLevel), and the
 * page's tokenizer (src/hub/tokenizer.ts over @huggingface/tokenizers) must encode exactly as the Python tokenizer the
 * models were trained with. Each folder's tokenizer_check.json holds the Python / Rust-core ids of texts with digits,
 * numbers, passkey and multi-key lines (written by tools/train_demo.py; the fixture's by the Rust core, see its README).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TextTokenizer } from '../../src/hub/tokenizer';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (dir: string, f: string) => JSON.parse(readFileSync(path.join(root, dir, f), 'utf8'));

interface Check {
  cases: { text: string; ids: number[] }[];
}

function checkFolder(dir: string) {
  const cfg = existsSync(path.join(root, dir, 'tokenizer_config.json')) ? read(dir, 'tokenizer_config.json') : null;
  const tok = new TextTokenizer(read(dir, 'tokenizer.json'), cfg);
  const check = read(dir, 'tokenizer_check.json') as Check;
  expect(check.cases.length).toBeGreaterThanOrEqual(8);
  for (const c of check.cases) {
    const ids = tok.encode(c.text, { addSpecialTokens: false });
    expect(ids, `${dir}: encode(${JSON.stringify(c.text)})`).toEqual(c.ids);
    expect(tok.decode(ids), `${dir}: decode of ${JSON.stringify(c.text)}`).toBe(c.text.normalize('NFC'));
    // every ASCII digit is a token of its own
    const digits = (c.text.match(/[0-9]/g) ?? []).length;
    const digitTokens = ids.filter((i) => /^[0-9]$/.test(tok.decode([i]))).length;
    expect(digitTokens, `${dir}: one token per digit in ${JSON.stringify(c.text)}`).toBe(digits);
  }
  return { tok, check };
}

describe('digit-splitting tokenizer: page vs Python/Rust ids', () => {
  it('fixture (Rust tokenizers core): same ids, one token per digit', () => {
    const { tok, check } = checkFolder('tests/fixtures/tokenizer-digits');
    // the pass key of a probe is five single-digit tokens after a lone space token
    const key = tok.encode(' 71432', { addSpecialTokens: false });
    expect(key.map((i) => tok.decode([i]))).toEqual([' ', '7', '1', '4', '3', '2']);
    expect(check.cases.some((c) => c.text.includes('The code for'))).toBe(true);
  });

  it('the same vocabulary without the digit split encodes numbers differently (the check can fail)', () => {
    const json = read('tests/fixtures/tokenizer-digits', 'tokenizer.json');
    const plain = { ...json, pre_tokenizer: json.pre_tokenizer.pretokenizers[1] }; // ByteLevel alone
    expect(plain.pre_tokenizer.type).toBe('ByteLevel');
    const tok = new TextTokenizer(plain, null);
    const check = read('tests/fixtures/tokenizer-digits', 'tokenizer_check.json') as Check;
    for (const text of ['key 12345', ' 71432']) {
      const c = check.cases.find((x) => x.text === text)!;
      expect(tok.encode(c.text, { addSpecialTokens: false })).not.toEqual(c.ids);
    }
  });

  for (const name of ['demo-mamba', 'demo-pythia']) {
    const dir = `public/models/${name}`;
    const has = existsSync(path.join(root, dir, 'tokenizer_check.json'));
    it.skipIf(!has)(`${name} (tokenizer_check.json written by tools/train_demo.py)`, () => {
      const { tok } = checkFolder(dir);
      expect(tok.vocabSize).toBe(read(dir, 'config.json').vocab_size);
    });
  }
});
