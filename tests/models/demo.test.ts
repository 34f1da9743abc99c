/**
 * The bundled demo pair (public/models, trained by tools/train_demo.py) loads through the same code path as hub
 * models (static layout) and reproduces transformers' float64 logits of its own f16 weights.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer } from '../../tools/hub-server.mjs';
import { HubClient, staticSource } from '../../src/hub/hub';
import { loadModel } from '../../src/models/load';
import { gpu, relErr } from '../gpu';

let server: Awaited<ReturnType<typeof startHubServer>>;
beforeAll(async () => { server = await startHubServer({ root: 'public' }); });
afterAll(() => server?.close());

describe.each(['demo-mamba', 'demo-pythia'])('%s', (name) => {
  it('matches the golden logits at the last positions and continues greedily the same way', async () => {
    const g = JSON.parse(readFileSync(`public/models/${name}/golden.json`, 'utf8'));
    const m = await loadModel(await gpu(), staticSource(`${server.url}/models/${name}`), { client: new HubClient({ cache: false }) });
    try {
      expect(m.arch).toBe(name === 'demo-mamba' ? 'mamba' : 'transformer');
      expect(m.tokenizer.encode(g.prompt_text, { addSpecialTokens: false })).toEqual(g.prompt_ids);
      const V = g.vocab_size;
      const all = await m.prefill(g.prompt_ids, { allLogits: true });
      const got = g.positions.flatMap((p: number) => Array.from(all.slice(p * V, (p + 1) * V)));
      expect(relErr(got, g.logits)).toBeLessThan(1e-3);
      const out = await m.generate(g.prompt_ids, { maxNewTokens: g.greedy_ids.length, temperature: 0, topK: 0, topP: 1, seed: 0 });
      expect(out.ids).toEqual(g.greedy_ids);
      expect(m.tokenizer.decode(out.ids)).toBe(g.greedy_text);
    } finally {
      m.dispose();
    }
  }, 300_000); // ~1 min each on SwiftShader; more on a loaded machine
});
