import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TextTokenizer, TokenizerError } from '../../src/hub/tokenizer';
import { TINY_TOKENIZER_CONFIG, tinyTokenizerJson } from './tiny-tokenizer';

const tok = new TextTokenizer(tinyTokenizerJson(), TINY_TOKENIZER_CONFIG);
const id = (t: string) => {
  const v = tok.tokenToId(t);
  if (v === undefined) throw new Error(`no token ${t}`);
  return v;
};

describe('TextTokenizer (tiny byte-level BPE)', () => {
  it('encodes with merges and byte fallback symbols', () => {
    expect(tok.encode('hello world')).toEqual([id('hello'), id('Ġwor'), id('l'), id('d')]);
    expect(tok.encode(' the café')).toEqual([id('Ġthe'), id('Ġ'), id('cafÃ©')]);
    // 🙂 = F0 9F 99 82: four byte tokens
    expect(tok.encode('🙂')).toHaveLength(4);
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('hi<|endoftext|>')).toEqual([id('h'), id('i'), 0]);
  });

  it('decodes back to the text, eos id, vocab size', () => {
    for (const s of ['hello world', ' the café 🙂!', 'a\nb  c\t', 'ünïcödé ☃ 日本語']) expect(tok.decode(tok.encode(s))).toBe(s);
    expect(tok.decode([])).toBe('');
    expect(tok.eosId).toBe(0);
    expect(tok.bosId).toBe(0);
    expect(tok.vocabSize).toBe(1 + 256 + 13);
    expect(tok.decode([id('hello'), 0], { skipSpecialTokens: true })).toBe('hello');
    expect(tok.decode([id('hello'), 0])).toBe('hello<|endoftext|>');
    expect(tok.decode([id('hello'), 99999, id('Ġwor')])).toBe('hello wor'); // padded-vocab ids decode to nothing
    expect(() => tok.decode([-1])).toThrow(/-1 is not a token id/);
  });

  it('streams text token by token, holding back split UTF-8 characters', () => {
    const text = 'hello 🙂 café ☃日本 the end';
    const ids = tok.encode(text);
    const d = tok.streamDecoder();
    const deltas = ids.map((i) => d.push(i));
    expect(deltas.join('') + d.flush()).toBe(text);
    expect(deltas.some((x) => x.includes('\uFFFD'))).toBe(false);
    // the emoji's first three byte tokens produce nothing; the fourth produces the whole character
    const e = tok.encode(' 🙂');
    const d2 = tok.streamDecoder();
    expect(e.map((i) => d2.push(i))).toEqual([' ', '', '', '', '🙂']); // 'Ġ' then the emoji's four byte tokens
    expect(d2.text).toBe(' 🙂');
  });

  it('decodeNext gives the text of one new token after a prompt', () => {
    const prompt = tok.encode('hello');
    const next = tok.encode(' world');
    let out = '';
    const prev = [...prompt];
    for (const n of next) {
      out += tok.decodeNext(prev, n);
      prev.push(n);
    }
    expect(out).toBe(' world');
    // prime(): prompt text is not re-emitted
    const d = tok.streamDecoder();
    d.prime(prompt);
    expect(next.map((n) => d.push(n)).join('')).toBe(' world');
  });

  it('flush() returns a trailing incomplete character as U+FFFD', () => {
    const e = tok.encode('ok🙂');
    const d = tok.streamDecoder();
    const out = e.slice(0, -1).map((i) => d.push(i)).join('');
    expect(out).toBe('ok');
    expect(d.flush()).toBe('\uFFFD');
  });

  it('rejects malformed tokenizer files clearly', () => {
    expect(() => new TextTokenizer('<html>')).toThrow(TokenizerError);
    expect(() => new TextTokenizer('<html>')).toThrow(/tokenizer.json is not valid JSON/);
    expect(() => new TextTokenizer({ version: '1.0' })).toThrow(/missing "model" object/);
  });
});

// Fixtures generated with the Python `tokenizers` library by other engineers: tools/make_golden.py writes
// tests/fixtures/hub/tiny-random/<repo>/resolve/main/{tokenizer.json, golden.json, ...}; tools/train_demo.py writes
// public/models/demo-*/{tokenizer.json, golden.json}. golden.json has prompt_text + prompt_ids (tok.encode(text).ids)
// and optionally tokenizer_cases [{text, ids, decoded}].
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
function fixtureDirs(): string[] {
  const out: string[] = [];
  const tiny = path.join(repoRoot, 'tests/fixtures/hub/tiny-random');
  if (existsSync(tiny)) {
    for (const d of readdirSync(tiny)) out.push(path.join(tiny, d, 'resolve/main'), path.join(tiny, d));
  }
  const demo = path.join(repoRoot, 'public/models');
  if (existsSync(demo)) for (const d of readdirSync(demo)) out.push(path.join(demo, d));
  return out.filter((d) => existsSync(path.join(d, 'tokenizer.json')) && existsSync(path.join(d, 'golden.json')));
}
const fixtures = fixtureDirs();

describe('TextTokenizer vs Python goldens', () => {
  it.skipIf(fixtures.length === 0)(`matches the Python tokenizer on fixture goldens (${fixtures.length} found)`, () => {
    for (const dir of fixtures) {
      const rel = path.relative(repoRoot, dir);
      const read = (f: string) => JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
      const cfg = existsSync(path.join(dir, 'tokenizer_config.json')) ? read('tokenizer_config.json') : null;
      const golden = read('golden.json');
      const t = new TextTokenizer(read('tokenizer.json'), cfg);
      if (typeof golden.prompt_text === 'string' && Array.isArray(golden.prompt_ids)) {
        expect(t.encode(golden.prompt_text), `${rel}: encode(prompt_text)`).toEqual(golden.prompt_ids);
        const d = t.streamDecoder();
        const streamed = golden.prompt_ids.map((i: number) => d.push(i)).join('') + d.flush();
        expect(streamed, `${rel}: streamed decode(prompt_ids)`).toBe(t.decode(golden.prompt_ids));
      }
      for (const c of (golden.tokenizer_cases ?? []) as { text: string; ids: number[]; decoded?: string }[]) {
        expect(t.encode(c.text), `${rel}: encode(${JSON.stringify(c.text)})`).toEqual(c.ids);
        if (typeof c.decoded === 'string') expect(t.decode(c.ids), `${rel}: decode of ${JSON.stringify(c.text)}`).toBe(c.decoded);
      }
    }
  });
});
