/**
 * Checkpoints as people save them: the same weights under every tensor spelling transformers loads (GPT-NeoX's head
 * as `lm_head.weight` (transformers ≥ 5.14) or `embed_out.weight` (older, Pythia on the hub); base models saved
 * without their prefix; mamba_ssm's `embedding`; tied heads saved anyway) reach the model under one set of names,
 * with the same bytes. Served by tools/hub-server.mjs, loaded with loadModelFiles (no GPU).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer, type HubServer } from '../../tools/hub-server.mjs';
import { parseConfig } from '../../src/hub/config';
import { toF32 } from '../../src/hub/dtype';
import { HubClient } from '../../src/hub/hub';
import { canonicalTensorName, expectTensor, loadModelFiles, type WeightLoadReport } from '../../src/hub/weights';
import { mambaJson, neoxJson, randomCheckpoint, writeRepo, type Spelling } from '../models/checkpoints';

let root: string;
let server: HubServer;
let client: HubClient;
beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'layouts-'));
  server = await startHubServer({ root });
  client = new HubClient({ baseUrl: server.url, cache: false });
});
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

const NEOX = neoxJson({ hidden: 16, heads: 2, layers: 2, ffn: 40, rotaryPct: 0.25, parallel: true, vocab: 300, tie: false });
const NEOX_TIED = { ...NEOX, tie_word_embeddings: true };
const MAMBA = mambaJson({ hidden: 16, state: 4, layers: 2, conv: 4, vocab: 300, tie: true });
const MAMBA_UNTIED = { ...MAMBA, tie_word_embeddings: false };

let n = 0;
/** Writes a random checkpoint spelled as asked, loads it; returns what the sink got (name → f32 values) and the report. */
async function loadSpelled(raw: Record<string, unknown>, sp: Spelling, extra: (t: ReturnType<typeof randomCheckpoint>['tensors']) => typeof t = (t) => t) {
  const ck = randomCheckpoint(raw, 7, sp);
  const repo = `org/layout-${n++}`;
  writeRepo(root, repo, raw, extra(ck.tensors));
  const files = await loadModelFiles(client.source(repo), { client });
  const got = new Map<string, Float32Array>();
  const report: WeightLoadReport = await files.loadWeights({ accept: (name, dtype, _shape, bytes) => void got.set(name, toF32(dtype, bytes)) });
  return { ck, got, report };
}

describe('tensor spellings', () => {
  it('maps every spelling onto the names the model code uses', () => {
    const neox = parseConfig(NEOX), mamba = parseConfig(MAMBA);
    expect(canonicalTensorName(neox, 'lm_head.weight')).toBe('embed_out.weight');
    expect(canonicalTensorName(neox, 'embed_out.weight')).toBe('embed_out.weight');
    expect(canonicalTensorName(neox, 'embed_in.weight')).toBe('gpt_neox.embed_in.weight');
    expect(canonicalTensorName(neox, 'layers.1.mlp.dense_4h_to_h.bias')).toBe('gpt_neox.layers.1.mlp.dense_4h_to_h.bias');
    expect(canonicalTensorName(neox, 'final_layer_norm.weight')).toBe('gpt_neox.final_layer_norm.weight');
    expect(canonicalTensorName(neox, 'gpt_neox.layers.0.attention.dense.weight')).toBe('gpt_neox.layers.0.attention.dense.weight');
    expect(canonicalTensorName(mamba, 'backbone.embedding.weight')).toBe('backbone.embeddings.weight');
    expect(canonicalTensorName(mamba, 'embeddings.weight')).toBe('backbone.embeddings.weight');
    expect(canonicalTensorName(mamba, 'embedding.weight')).toBe('backbone.embeddings.weight');
    expect(canonicalTensorName(mamba, 'layers.0.mixer.A_log')).toBe('backbone.layers.0.mixer.A_log');
    expect(canonicalTensorName(mamba, 'norm_f.weight')).toBe('backbone.norm_f.weight');
    expect(canonicalTensorName(mamba, 'lm_head.weight')).toBe('lm_head.weight');
  });

  it('GPT-NeoX head saved as lm_head.weight (transformers ≥ 5.14) reaches the model as embed_out.weight, same bytes', async () => {
    const { ck, got, report } = await loadSpelled(NEOX, { head: 'lm_head' });
    expect(report.renamed).toEqual([['lm_head.weight', 'embed_out.weight']]);
    expect(report.unexpected).toEqual([]);
    expect([...got.keys()].sort()).toEqual([...ck.weights.keys()].sort());
    expect(got.get('embed_out.weight')).toEqual(ck.weights.get('embed_out.weight'));
  });

  it('GPT-NeoX head saved as embed_out.weight (older checkpoints, Pythia) loads unchanged', async () => {
    const { ck, got, report } = await loadSpelled(NEOX, { head: 'embed_out' });
    expect(report.renamed).toEqual([]);
    expect(got.get('embed_out.weight')).toEqual(ck.weights.get('embed_out.weight'));
  });

  it('refuses a checkpoint holding both spellings of the head, naming both', async () => {
    await expect(loadSpelled(NEOX, { head: 'embed_out' }, (t) => [...t, { ...t.find((x) => x.name === 'embed_out.weight')!, name: 'lm_head.weight' }]))
      .rejects.toThrow(/has both embed_out\.weight and lm_head\.weight, two spellings of embed_out\.weight/);
  });

  it('an untied GPT-NeoX without a head: the error names both spellings', async () => {
    await expect(loadSpelled(NEOX, {}, (t) => t.filter((x) => x.name !== 'embed_out.weight')))
      .rejects.toThrow(/missing: embed_out\.weight \(or lm_head\.weight\)/);
  });

  it('a shape mismatch under another spelling names both names', () => {
    expect(() => expectTensor(parseConfig(NEOX), 'lm_head.weight', [300, 8]))
      .toThrow('model.safetensors: tensor lm_head.weight (read as embed_out.weight) has shape [300, 8], config expects [300, 16]');
  });

  it('tied GPT-NeoX: a head saved anyway is ignored (the input embedding is the head), not handed to the model', async () => {
    for (const head of ['embed_out', 'lm_head'] as const) {
      const { ck, got, report } = await loadSpelled(NEOX_TIED, { tiedHeadCopy: true, head });
      expect(report.ignored).toEqual([`${head}.weight`]);
      expect(got.has('embed_out.weight')).toBe(false);
      expect([...got.keys()].sort()).toEqual([...ck.weights.keys()].sort());
    }
  });

  it('GPTNeoXModel saved on its own (no gpt_neox. prefix), tied head', async () => {
    const { ck, got, report } = await loadSpelled(NEOX_TIED, { noPrefix: true });
    expect(report.unexpected).toEqual([]);
    expect(report.renamed.length).toBe(ck.weights.size);
    expect([...got.keys()].sort()).toEqual([...ck.weights.keys()].sort());
    for (const [k, v] of ck.weights) expect(got.get(k), k).toEqual(v);
  });

  it("Mamba: mamba_ssm's backbone.embedding.weight, a MambaModel saved without backbone., a tied lm_head saved anyway", async () => {
    const a = await loadSpelled(MAMBA, { mambaSsmEmbedding: true });
    expect(a.report.renamed).toEqual([['backbone.embedding.weight', 'backbone.embeddings.weight']]);
    expect(a.got.get('backbone.embeddings.weight')).toEqual(a.ck.weights.get('backbone.embeddings.weight'));
    const b = await loadSpelled(MAMBA, { noPrefix: true });
    expect(b.report.unexpected).toEqual([]);
    expect([...b.got.keys()].sort()).toEqual([...b.ck.weights.keys()].sort());
    const c = await loadSpelled(MAMBA, { tiedHeadCopy: true });
    expect(c.report.ignored).toEqual(['lm_head.weight']);
    expect(c.got.has('lm_head.weight')).toBe(false);
    const d = await loadSpelled(MAMBA_UNTIED, {});
    expect(d.got.get('lm_head.weight')).toEqual(d.ck.weights.get('lm_head.weight'));
  });
});
