/**
 * PyTorch .bin checkpoints through the hub loader (loadModelFiles over tools/hub-server.mjs): pytorch_model.bin,
 * sharded pytorch_model-0000x-of-0000y.bin + index, safetensors preferred when both exist, mamba_ssm's layout (config
 * keys, backbone.embedding, a tied head sharing the embedding's storage, padded vocab rows dropped), a tokenizer from
 * a companion repo, progress, and bad files that fail clearly while the same client keeps working.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer, type HubServer } from '../../tools/hub-server.mjs';
import { parseConfig, type MambaConfig } from '../../src/hub/config';
import { HubClient, hubSource, type CacheLike, type CacheStorageLike } from '../../src/hub/hub';
import { TextTokenizer } from '../../src/hub/tokenizer';
import { expectedTensors, loadModelFiles, type LoadProgress, type WeightSink } from '../../src/hub/weights';
import { encodeTensor, writeSafetensors, type WTensor } from './st-writer';
import { TINY_TOKENIZER_CONFIG, tinyTokenizerJson } from './tiny-tokenizer';
import { PickleWriter, denseStateDict, torchSave, torchSaveDense, type PStorage, type PTensor } from './torch-writer';

const MAMBA_HF = {
  model_type: 'mamba', hidden_size: 16, state_size: 4, num_hidden_layers: 2, expand: 2, conv_kernel: 4,
  time_step_rank: 'auto', use_bias: false, use_conv_bias: true, vocab_size: 272, tie_word_embeddings: true,
};
/** mamba_ssm 1.x's config.json: the vocab (270) is padded to 272 rows by the model. */
const MAMBA_SSM = { d_model: 16, n_layer: 2, vocab_size: 270, ssm_cfg: { d_state: 4 }, rms_norm: true, residual_in_fp32: true, fused_add_norm: true, pad_vocab_size_multiple: 8 };
const NEOX = {
  model_type: 'gpt_neox', hidden_size: 16, num_attention_heads: 2, num_hidden_layers: 2, intermediate_size: 64, rotary_pct: 0.25,
  vocab_size: 272, max_position_embeddings: 8, use_parallel_residual: true, layer_norm_eps: 1e-5, tie_word_embeddings: false,
};

/** Checkpoint tensors (as the config implies them, checkpoint shapes), transformers names. */
function tensorsOf(raw: Record<string, unknown>, dtype: 'F32' | 'F16' | 'BF16'): WTensor[] {
  return [...expectedTensors(parseConfig(raw))].filter(([, s]) => !s.optional).map(([name, s]) => ({ name, dtype, shape: s.shape }));
}

let root: string;
let server: HubServer;
const tok = tinyTokenizerJson();
const put = (rel: string, data: string | Uint8Array | object) => {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, typeof data === 'string' || data instanceof Uint8Array ? data : JSON.stringify(data, null, 1));
};
const repo = (name: string, config: object, files: Record<string, Uint8Array | object>, tokenizer = true) => {
  put(`${name}/config.json`, config);
  if (tokenizer) put(`${name}/tokenizer.json`, tok);
  for (const [f, d] of Object.entries(files)) put(`${name}/${f}`, d);
};

const mambaT = tensorsOf(MAMBA_HF, 'F32');
const neoxT = tensorsOf(NEOX, 'F16');
const buffers: WTensor[] = [0, 1].flatMap((i) => [
  { name: `gpt_neox.layers.${i}.attention.bias`, dtype: 'BOOL' as const, shape: [1, 1, 8, 8], data: new Array(64).fill(1) },
  { name: `gpt_neox.layers.${i}.attention.masked_bias`, dtype: 'F32' as const, shape: [] },
  { name: `gpt_neox.layers.${i}.attention.rotary_emb.inv_freq`, dtype: 'F32' as const, shape: [1] },
]);

/** mamba_ssm's state dict: backbone.embedding.weight [272, 16] and lm_head.weight on the same storage. */
function mambaSsmFile(): { file: Uint8Array; embedding: Uint8Array; tensors: WTensor[] } {
  const ts = tensorsOf(MAMBA_SSM, 'F32').map((t) => (t.name === 'backbone.embeddings.weight' ? { ...t, name: 'backbone.embedding.weight' } : t));
  const sd = denseStateDict(ts);
  const embKey = sd.tensors.find((t) => t.name === 'backbone.embedding.weight')!.storage;
  const tensors: PTensor[] = [...sd.tensors, { name: 'lm_head.weight', storage: embKey, shape: [272, 16] }];
  return { file: torchSave(sd.storages, tensors, { folder: 'pytorch_model' }), embedding: sd.storages.find((s) => s.key === embKey)!.bytes, tensors: ts };
}
const ssm = mambaSsmFile();

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'bin-hub-'));
  repo('bin/mamba', MAMBA_HF, { 'pytorch_model.bin': torchSaveDense(mambaT) });
  // both formats: different values, so which one loaded shows
  repo('bin/both', MAMBA_HF, {
    'model.safetensors': writeSafetensors(mambaT.map((t) => ({ ...t, data: new Array(t.shape.reduce((a, b) => a * b, 1)).fill(0.5) }))),
    'pytorch_model.bin': torchSaveDense(mambaT),
  });
  // sharded GPT-NeoX .bin (transformers 4.x layout) with Pythia's old buffers
  const all = [...neoxT, ...buffers];
  const shards = [all.slice(0, 9), all.slice(9)];
  const weightMap: Record<string, string> = {};
  const files: Record<string, Uint8Array | object> = {};
  shards.forEach((ts, i) => {
    const f = `pytorch_model-0000${i + 1}-of-00002.bin`;
    files[f] = torchSaveDense(ts, { plainDict: true, folder: `pytorch_model-0000${i + 1}-of-00002` });
    for (const t of ts) weightMap[t.name] = f;
  });
  files['pytorch_model.bin.index.json'] = { metadata: { total_size: 0 }, weight_map: weightMap };
  repo('bin/neox-sharded', NEOX, files);
  // the authors' layout, no tokenizer: the companion repo EleutherAI/gpt-neox-20b has it
  repo('state-spaces/tiny-mamba', MAMBA_SSM, { 'pytorch_model.bin': ssm.file }, false);
  put('EleutherAI/gpt-neox-20b/tokenizer.json', tok);
  put('EleutherAI/gpt-neox-20b/tokenizer_config.json', TINY_TOKENIZER_CONFIG);
  repo('other-org/no-tokenizer', MAMBA_SSM, { 'pytorch_model.bin': ssm.file }, false);
  // bad files
  const evil = new PickleWriter().op(0x80, 2).global('os', 'system').str('touch /tmp/pwned').op(0x85, 0x52, 0x2e).bytes();
  repo('bin/evil', MAMBA_HF, { 'pytorch_model.bin': torchSaveDense(mambaT, { pickle: evil }) });
  const good = torchSaveDense(mambaT);
  repo('bin/truncated', MAMBA_HF, { 'pytorch_model.bin': good.slice(0, Math.floor(good.byteLength * 0.6)) });
  repo('bin/bad-shape', MAMBA_HF, { 'pytorch_model.bin': torchSaveDense(mambaT.map((t) => (t.name.endsWith('layers.1.mixer.A_log') ? { ...t, shape: [32, 2] } : t))) });
  const storages: PStorage[] = [{ key: '0', type: 'FloatStorage', bytes: encodeTensor({ name: 'x', dtype: 'F32', shape: [4] }) }];
  repo('bin/past-storage', MAMBA_HF, { 'pytorch_model.bin': torchSave(storages, [{ name: 'backbone.norm_f.weight', storage: '0', shape: [16] }]) });
  repo('bin/not-a-zip', MAMBA_HF, { 'pytorch_model.bin': new TextEncoder().encode('version https://git-lfs.github.com/spec/v1\noid sha256:abc\n') });
  server = await startHubServer({ root });
});

afterAll(async () => {
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** An in-memory Cache Storage (Node has none). */
class MemCache implements CacheLike {
  readonly entries = new Map<string, { body: Uint8Array; status: number; headers: [string, string][] }>();
  async match(url: string) {
    const e = this.entries.get(url);
    return e ? new Response(e.body.slice(), { status: e.status, headers: e.headers }) : undefined;
  }
  async put(url: string, res: Response) {
    this.entries.set(url, { body: new Uint8Array(await res.arrayBuffer()), status: res.status, headers: [...res.headers] });
  }
  async delete(url: string) {
    return this.entries.delete(url);
  }
}
class MemCacheStorage implements CacheStorageLike {
  readonly cache = new MemCache();
  async open() {
    return this.cache;
  }
}

function collect(): WeightSink & { got: Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }> } {
  const got = new Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>();
  return { got, accept: (name, dtype, shape, bytes) => void got.set(name, { dtype, shape, bytes: bytes.slice() }) };
}

describe('PyTorch .bin checkpoints through the hub loader', () => {
  it('pytorch_model.bin: every tensor, progress as for safetensors', async () => {
    const client = new HubClient({ baseUrl: server.url, cache: false });
    const events: LoadProgress[] = [];
    const files = await loadModelFiles(client.source('bin/mamba'), { client });
    expect(files.weightFiles).toEqual({ kind: 'single', format: 'pytorch', files: ['pytorch_model.bin'] });
    const sink = collect();
    const report = await files.loadWeights(sink, { onProgress: (p) => events.push(p) });
    expect(report.files).toEqual(['pytorch_model.bin']);
    expect(sink.got.size).toBe(mambaT.length);
    for (const t of mambaT) expect(Array.from(sink.got.get(t.name)!.bytes), t.name).toEqual(Array.from(encodeTensor(t)));
    const w = events.filter((e) => e.phase === 'weights');
    expect(w.length).toBeGreaterThan(1);
    expect(w.every((e) => e.file === 'pytorch_model.bin' && e.fileTotal === files.weightBytes)).toBe(true);
    expect(w[w.length - 1].weightsLoaded).toBe(files.weightBytes);
    expect(events[events.length - 1].phase).toBe('done');
    expect(files.tokenizerFrom).toBeNull();
  });

  it('prefers model.safetensors when a repo has both', async () => {
    const client = new HubClient({ baseUrl: server.url, cache: false });
    const files = await loadModelFiles(client.source('bin/both'), { client });
    expect(files.weightFiles.format).toBe('safetensors');
    const sink = collect();
    await files.loadWeights(sink);
    expect(new Float32Array(sink.got.get('backbone.norm_f.weight')!.bytes.buffer)[0]).toBe(0.5);
  });

  it('sharded pytorch_model-0000x-of-00002.bin + index: both shards, Pythia buffers (bool, scalar) skipped', async () => {
    const client = new HubClient({ baseUrl: server.url, cache: false });
    const files = await loadModelFiles(client.source('bin/neox-sharded'), { client });
    expect(files.weightFiles.kind).toBe('sharded');
    expect(files.weightFiles.files).toEqual(['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']);
    const sink = collect();
    const report = await files.loadWeights(sink);
    expect([...sink.got.keys()].sort()).toEqual(neoxT.map((t) => t.name).sort());
    for (const t of neoxT) expect(Array.from(sink.got.get(t.name)!.bytes), t.name).toEqual(Array.from(encodeTensor(t)));
    expect(report.ignored.sort()).toEqual(buffers.map((t) => t.name).sort());
  });

  it("mamba_ssm's layout: its config, backbone.embedding, the tied head on the embedding's storage, padded rows dropped; tokenizer from EleutherAI/gpt-neox-20b", async () => {
    const client = new HubClient({ baseUrl: server.url, cache: false });
    const files = await loadModelFiles(hubSource('state-spaces/tiny-mamba', { baseUrl: server.url }), { client });
    const c = files.config as MambaConfig;
    expect([c.vocabSize, c.paddedVocabSize, c.tieWordEmbeddings, c.stateSize, c.timeStepRank]).toEqual([270, 272, true, 4, 1]);
    expect(files.tokenizerFrom).toBe('EleutherAI/gpt-neox-20b');
    expect(files.tokenizerConfig).toEqual(TINY_TOKENIZER_CONFIG);
    expect(new TextTokenizer(files.tokenizerJson, files.tokenizerConfig).encode('hello')).toHaveLength(1);
    const sink = collect();
    const report = await files.loadWeights(sink);
    const emb = sink.got.get('backbone.embeddings.weight')!;
    expect(emb.shape).toEqual([270, 16]);
    expect(Array.from(emb.bytes)).toEqual(Array.from(ssm.embedding.subarray(0, 270 * 16 * 4)));
    expect(report.renamed).toContainEqual(['backbone.embedding.weight', 'backbone.embeddings.weight']);
    expect(report.ignored).toEqual(['lm_head.weight']);
    expect(sink.got.has('lm_head.weight')).toBe(false);
    expect(sink.got.size).toBe(ssm.tensors.length);
    // the companion's files were asked for only after the model repo said it has no tokenizer
    const paths = server.requests.map((r) => r.path);
    expect(paths).toContain('/state-spaces/tiny-mamba/resolve/main/tokenizer.json');
    expect(paths).toContain('/EleutherAI/gpt-neox-20b/resolve/main/tokenizer.json');
  });

  it('a second open works offline from the cache: the .bin, the remembered missing tokenizer, the companion tokenizer', async () => {
    const storage = new MemCacheStorage();
    const online = new HubClient({ baseUrl: server.url, cache: storage });
    const first = collect();
    await loadModelFiles(online.source('state-spaces/tiny-mamba'), { client: online, sink: first });
    const offline = new HubClient({ baseUrl: server.url, cache: storage, fetch: () => Promise.reject(new TypeError('fetch failed (offline)')) });
    const second = collect();
    const files = await loadModelFiles(offline.source('state-spaces/tiny-mamba'), { client: offline, sink: second });
    expect(files.report!.fromCache).toBe(true);
    expect(files.tokenizerFrom).toBe('EleutherAI/gpt-neox-20b');
    expect(files.weightFiles.format).toBe('pytorch');
    expect([...second.got.keys()]).toEqual([...first.got.keys()]);
    for (const [k, v] of first.got) expect(Array.from(second.got.get(k)!.bytes), k).toEqual(Array.from(v.bytes));
  });

  it('a repo without a tokenizer and no known companion: a clear error; an explicit tokenizer source works', async () => {
    const client = new HubClient({ baseUrl: server.url, cache: false });
    await expect(loadModelFiles(client.source('other-org/no-tokenizer'), { client })).rejects.toThrow(
      /other-org\/no-tokenizer has no tokenizer.json, and no companion repo to take one from is known for it/,
    );
    const files = await loadModelFiles(client.source('other-org/no-tokenizer'), { client, tokenizerSource: client.source('EleutherAI/gpt-neox-20b') });
    expect(files.tokenizerFrom).toBe('EleutherAI/gpt-neox-20b');
  });

  it('bad files fail with a clear message naming the file, before weights reach the sink where the header shows it; the client keeps working', async () => {
    const client = new HubClient({ baseUrl: server.url, cache: false });
    const cases: [string, RegExp][] = [
      ['bin/evil', /pytorch_model.bin of bin\/evil: data.pkl: refusing to load: the pickle names the global os\.system/],
      ['bin/truncated', /pytorch_model.bin of bin\/truncated: truncated: the file ends after \d+ bytes/],
      ['bin/bad-shape', /pytorch_model.bin of bin\/bad-shape: tensor backbone.layers.1.mixer.A_log has shape \[32, 2\], config expects \[32, 4\]/],
      ['bin/past-storage', /pytorch_model.bin of bin\/past-storage: tensor backbone.norm_f.weight .* runs past its storage data\/0: it needs element 15, the storage holds 4/],
      ['bin/not-a-zip', /pytorch_model.bin of bin\/not-a-zip: not a torch.save zip archive/],
    ];
    for (const [name, re] of cases) {
      const files = await loadModelFiles(client.source(name), { client });
      const sink = collect();
      await expect(files.loadWeights(sink), name).rejects.toThrow(re);
      if (name !== 'bin/truncated') expect(sink.got.size, name).toBe(0);
      // the same client, right after: a good .bin loads completely
      const ok = await loadModelFiles(client.source('bin/mamba'), { client });
      const s2 = collect();
      await ok.loadWeights(s2);
      expect(s2.got.size).toBe(mambaT.length);
    }
  });
});
