import { existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer, type HubServer } from '../../tools/hub-server.mjs';
import { parseConfig, type ModelConfig } from '../../src/hub/config';
import { toF32, type FloatDtype } from '../../src/hub/dtype';
import { HubClient, HubError, fileUrl, hubSource, staticSource, type CacheLike, type CacheStorageLike, type FileProgress } from '../../src/hub/hub';
import { probeDownloadBytes } from '../../src/hub/registry';
import { streamSafetensors } from '../../src/hub/safetensors';
import { TextTokenizer } from '../../src/hub/tokenizer';
import { expectTensor, expectedTensors, loadModelFiles, type LoadProgress } from '../../src/hub/weights';
import { ramp, writeSafetensors, type WTensor } from './st-writer';
import { TINY_TOKENIZER_CONFIG, tinyTokenizerJson } from './tiny-tokenizer';

const MAMBA_CFG = {
  architectures: ['MambaForCausalLM'], model_type: 'mamba', hidden_size: 16, state_size: 4, num_hidden_layers: 2,
  expand: 2, intermediate_size: 32, conv_kernel: 4, time_step_rank: 'auto', use_bias: false, use_conv_bias: true,
  layer_norm_epsilon: 1e-5, vocab_size: 272, pad_vocab_size_multiple: 8, tie_word_embeddings: true, eos_token_id: 0,
};
const NEOX_CFG = {
  architectures: ['GPTNeoXForCausalLM'], model_type: 'gpt_neox', hidden_size: 16, num_attention_heads: 2,
  num_hidden_layers: 2, intermediate_size: 64, rotary_pct: 0.25, rotary_emb_base: 10000, vocab_size: 272,
  max_position_embeddings: 8, use_parallel_residual: true, layer_norm_eps: 1e-5, hidden_act: 'gelu',
  tie_word_embeddings: false, eos_token_id: 0,
};

/** Checkpoint tensors for a config (deterministic values); F32 for Mamba, F16 for GPT-NeoX like the hub repos. */
function checkpoint(config: ModelConfig, dtype: 'F32' | 'F16', override: Record<string, number[]> = {}): WTensor[] {
  return [...expectedTensors(config)]
    .filter(([, s]) => !s.optional)
    .map(([name, s]) => ({ name, dtype, shape: override[name] ?? s.shape }));
}

function expectedBytes(t: WTensor): number[] {
  const n = t.shape.reduce((a, b) => a * b, 1);
  return Array.from(Float32Array.from(ramp(n, t.name.length)));
}

async function errorOf(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    return e as HubError;
  }
  throw new Error('expected a rejection');
}

class MemCache implements CacheLike {
  readonly entries = new Map<string, { body: Uint8Array; headers: [string, string][] }>();
  async match(url: string) {
    const e = this.entries.get(url);
    return e ? new Response(e.body.slice(), { headers: e.headers }) : undefined;
  }
  async put(url: string, res: Response) {
    const body = new Uint8Array(await res.arrayBuffer()); // rejects if the stream errors: nothing stored
    this.entries.set(url, { body, headers: [...res.headers] });
  }
  async delete(url: string) {
    return this.entries.delete(url);
  }
  async keys() {
    return [...this.entries.keys()].map((u) => new Request(u));
  }
}
class MemCacheStorage implements CacheStorageLike {
  readonly caches = new Map<string, MemCache>();
  async open(name: string) {
    if (!this.caches.has(name)) this.caches.set(name, new MemCache());
    return this.caches.get(name)!;
  }
}

let root: string;
let server: HubServer;
let base: string;
const mambaConfig = parseConfig(MAMBA_CFG);
const neoxConfig = parseConfig(NEOX_CFG);
const mambaTensors = checkpoint(mambaConfig, 'F32');
const neoxTensors = checkpoint(neoxConfig, 'F16');
const BIG_BYTES = 3 * 1024 * 1024;

function put(rel: string, data: string | Uint8Array | object) {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, typeof data === 'string' || data instanceof Uint8Array ? data : JSON.stringify(data, null, 1));
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'hub-test-'));
  const tok = tinyTokenizerJson();
  for (const dir of ['test-org/tiny-mamba', 'models/demo-mamba']) {
    put(`${dir}/config.json`, MAMBA_CFG);
    put(`${dir}/tokenizer.json`, tok);
    put(`${dir}/tokenizer_config.json`, TINY_TOKENIZER_CONFIG);
    put(`${dir}/model.safetensors`, writeSafetensors(mambaTensors, { metadata: { format: 'pt' } }));
  }
  // Sharded GPT-NeoX checkpoint with Pythia's mask/inv_freq buffers (which the loader skips).
  const masks: WTensor[] = [0, 1].flatMap((i) => [
    { name: `gpt_neox.layers.${i}.attention.bias`, dtype: 'BOOL' as const, shape: [1, 1, 8, 8], data: new Array(64).fill(1) },
    { name: `gpt_neox.layers.${i}.attention.masked_bias`, dtype: 'F32' as const, shape: [] },
    { name: `gpt_neox.layers.${i}.attention.rotary_emb.inv_freq`, dtype: 'F32' as const, shape: [1] },
  ]);
  const all = [...neoxTensors, ...masks];
  const half = Math.floor(all.length / 2);
  const shards = [all.slice(0, half), all.slice(half)];
  const weightMap: Record<string, string> = {};
  shards.forEach((ts, i) => {
    const f = `model-0000${i + 1}-of-00002.safetensors`;
    put(`test-org/tiny-pythia/${f}`, writeSafetensors(ts));
    for (const t of ts) weightMap[t.name] = f;
  });
  put('test-org/tiny-pythia/model.safetensors.index.json', { metadata: { total_size: 0 }, weight_map: weightMap });
  put('test-org/tiny-pythia/config.json', NEOX_CFG);
  put('test-org/tiny-pythia/tokenizer.json', tok);
  // A bigger single tensor, for progress and abort.
  put('test-org/big/model.safetensors', writeSafetensors([{ name: 'w', dtype: 'F32', shape: [BIG_BYTES / 4], data: new Float32Array(BIG_BYTES / 4) }]));
  put('test-org/bad-json/config.json', '<!doctype html><title>oops</title>');
  put('test-org/bad-json/tokenizer.json', tok);
  put('test-org/bad-json/model.safetensors', writeSafetensors(mambaTensors));
  put('test-org/no-weights/config.json', MAMBA_CFG);
  put('test-org/no-weights/tokenizer.json', tok);
  // Wrong A_log shape: config says state 4, file has 2.
  put('test-org/bad-shape/config.json', MAMBA_CFG);
  put('test-org/bad-shape/tokenizer.json', tok);
  put('test-org/bad-shape/model.safetensors', writeSafetensors(checkpoint(mambaConfig, 'F32', { 'backbone.layers.1.mixer.A_log': [32, 2] })));
  put('tiny-random/literal/resolve/main/config.json', MAMBA_CFG); // tools/make_golden.py's on-disk layout
  put('test-org/missing/config.json', MAMBA_CFG);
  put('test-org/missing/tokenizer.json', tok);
  put('test-org/missing/model.safetensors', writeSafetensors(mambaTensors.filter((t) => t.name !== 'backbone.norm_f.weight')));
  server = await startHubServer({ root });
  base = server.url;
});

afterAll(async () => {
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('hub-server', () => {
  it('serves the hub layout with sizes, ranges, CORS and clear 404s', async () => {
    const url = `${base}/test-org/tiny-mamba/resolve/main/config.json`;
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(10);
    expect(head.headers.get('access-control-allow-origin')).toBe('*');
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    const r = await fetch(url, { headers: { Range: 'bytes=2-5' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toMatch(/^bytes 2-5\/\d+$/);
    expect((await r.text()).length).toBe(4);
    const suffix = await fetch(url, { headers: { Range: 'bytes=-3' } });
    expect(suffix.status).toBe(206);
    expect((await suffix.arrayBuffer()).byteLength).toBe(3);
    expect((await fetch(url, { headers: { Range: 'bytes=99999-' } })).status).toBe(416);
    const missing = await fetch(`${base}/test-org/tiny-mamba/resolve/main/nope.bin`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toMatch(/404 Not Found: \/test-org\/tiny-mamba\/resolve\/main\/nope.bin/);
    expect((await fetch(`${base}/test-org/%2e%2e/%2e%2e/etc/passwd`)).status).toBe(404);
    const opt = await fetch(url, { method: 'OPTIONS' });
    expect(opt.status).toBe(204);
    expect(opt.headers.get('access-control-allow-headers')).toMatch(/Range/);
    // static layout, and trees that store .../resolve/main/... folders literally
    expect((await fetch(`${base}/models/demo-mamba/config.json`)).status).toBe(200);
    expect((await fetch(`${base}/tiny-random/literal/resolve/main/config.json`)).status).toBe(200);
  });
});

describe('HubClient', () => {
  it('builds hub and static URLs', () => {
    const c = new HubClient({ cache: false });
    expect(c.url('state-spaces/mamba-130m-hf', 'config.json')).toBe('https://huggingface.co/state-spaces/mamba-130m-hf/resolve/main/config.json');
    expect(new HubClient({ baseUrl: 'http://x:1/', revision: 'v2', cache: false }).url('a/b', 'model.safetensors')).toBe('http://x:1/a/b/resolve/v2/model.safetensors');
    expect(fileUrl(staticSource('https://app.example/models/demo-mamba/'), 'tokenizer.json')).toBe('https://app.example/models/demo-mamba/tokenizer.json');
    expect(fileUrl(hubSource('a/b'), 'sub dir/f.json')).toBe('https://huggingface.co/a/b/resolve/main/sub%20dir/f.json');
  });

  it('downloads with per-file progress from Content-Length', async () => {
    const client = new HubClient({ baseUrl: base, cache: false });
    const events: FileProgress[] = [];
    const bytes = await client.fetchBytes('test-org/big', 'model.safetensors', { onProgress: (p) => events.push(p) });
    const size = bytes.byteLength;
    expect(size).toBeGreaterThan(BIG_BYTES);
    expect(events.length).toBeGreaterThan(3);
    expect(events.every((e) => e.total === size && !e.fromCache)).toBe(true);
    for (let i = 1; i < events.length; i++) expect(events[i].loaded).toBeGreaterThanOrEqual(events[i - 1].loaded);
    const last = events[events.length - 1];
    expect(last.done).toBe(true);
    expect(last.loaded).toBe(size);
  });

  it('reports a missing file with file, repo and URL', async () => {
    const client = new HubClient({ baseUrl: base, cache: false });
    const err = await errorOf(client.fetchJson('test-org/tiny-mamba', 'nope.json'));
    expect(err).toBeInstanceOf(HubError);
    expect(err.code).toBe('not-found');
    expect(err.status).toBe(404);
    expect(err.message).toBe(`file nope.json not found in repo test-org/tiny-mamba at ${base}/test-org/tiny-mamba/resolve/main/nope.json`);
    const err2 = await errorOf(client.fetchJson(staticSource(`${base}/models/demo-x`), 'config.json'));
    expect(err2.message).toMatch(/file config.json not found in folder .*\/models\/demo-x at/);
  });

  it('reports network failures and non-JSON files clearly', async () => {
    const dead = await startHubServer({ root });
    const deadUrl = dead.url;
    await dead.close();
    const client = new HubClient({ baseUrl: deadUrl, cache: false });
    const err = await errorOf(client.fetchJson('a/b', 'config.json'));
    expect(err).toBeInstanceOf(HubError);
    expect(err.code).toBe('network');
    expect(err.message).toMatch(/network error fetching config.json from a\/b \(http:\/\/127.0.0.1:\d+\/a\/b\/resolve\/main\/config.json\)/);
    const ok = new HubClient({ baseUrl: base, cache: false });
    await expect(ok.fetchJson('test-org/bad-json', 'config.json')).rejects.toThrow(
      /config.json from test-org\/bad-json is not valid JSON .* it starts with "<!doctype html>/,
    );
    await expect(loadModelFiles(ok.source('test-org/bad-json'), { client: ok })).rejects.toMatchObject({ code: 'bad-json' });
  });

  it('lists single and sharded weight files, and explains when there are none', async () => {
    const client = new HubClient({ baseUrl: base, cache: false });
    expect(await client.listFiles('test-org/tiny-mamba')).toEqual({ kind: 'single', format: 'safetensors', files: ['model.safetensors'] });
    const sharded = await client.listFiles('test-org/tiny-pythia');
    expect(sharded.kind).toBe('sharded');
    expect(sharded.files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    await expect(client.listFiles('test-org/no-weights')).rejects.toThrow(
      /no weights in test-org\/no-weights: none of model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json exists/,
    );
    const reqs = server.requests.filter((r) => r.path.startsWith('/test-org/tiny-mamba/') && r.method === 'HEAD');
    expect(reqs.map((r) => r.path)).toContain('/test-org/tiny-mamba/resolve/main/model.safetensors');
  });

  it('reads a safetensors header and the download size with Range requests', async () => {
    const client = new HubClient({ baseUrl: base, cache: false });
    const h = await client.fetchSafetensorsHeader('test-org/tiny-mamba', 'model.safetensors');
    expect(h).not.toBeNull();
    expect(h!.header.tensors.map((t) => t.name).sort()).toEqual(mambaTensors.map((t) => t.name).sort());
    expect(h!.fileSize).toBe(h!.header.dataOffset + h!.header.dataLength);
    expect(await probeDownloadBytes(client, client.source('test-org/tiny-mamba'))).toBe(h!.fileSize);
    const sh = await probeDownloadBytes(client, client.source('test-org/tiny-pythia'));
    expect(sh).toBeGreaterThan(1000);
  });

  it('aborting mid-download rejects with an AbortError and caches nothing', async () => {
    const storage = new MemCacheStorage();
    const client = new HubClient({ baseUrl: base, cache: storage });
    const ctl = new AbortController();
    const f = await client.fetchFile('test-org/big', 'model.safetensors', {
      signal: ctl.signal,
      onProgress: (p) => {
        if (p.loaded > 0) ctl.abort();
      },
    });
    let tensors = 0;
    const err = await errorOf(streamSafetensors(f.body, { signal: ctl.signal, onTensor: () => void tensors++ }));
    expect(err.name).toBe('AbortError');
    expect(err.message).toMatch(/download of model.safetensors from test-org\/big was cancelled/);
    expect(tensors).toBe(0);
    expect(await f.cacheWrite).toBe(false);
    const cache = await storage.open('hub-v1');
    expect(cache.entries.size).toBe(0);
    // aborting before the request starts
    const pre = new AbortController();
    pre.abort();
    await expect(client.fetchBytes('test-org/big', 'model.safetensors', { signal: pre.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('caches complete downloads and loads a second time offline', async () => {
    const storage = new MemCacheStorage();
    const online = new HubClient({ baseUrl: base, cache: storage });
    const sinkNames: string[] = [];
    const first = await loadModelFiles(online.source('test-org/tiny-mamba'), { client: online, sink: { accept: (n) => void sinkNames.push(n) } });
    expect(first.report!.fromCache).toBe(false);
    const cache = await storage.open('hub-v1');
    expect([...cache.entries.keys()].map((u) => u.slice(base.length)).sort()).toEqual([
      '/test-org/tiny-mamba/resolve/main/config.json',
      '/test-org/tiny-mamba/resolve/main/model.safetensors',
      '/test-org/tiny-mamba/resolve/main/tokenizer.json',
      '/test-org/tiny-mamba/resolve/main/tokenizer_config.json',
    ]);
    const offline = new HubClient({
      baseUrl: base,
      cache: storage,
      fetch: () => Promise.reject(new TypeError('fetch failed (offline)')),
    });
    const events: LoadProgress[] = [];
    const names: string[] = [];
    const second = await loadModelFiles(offline.source('test-org/tiny-mamba'), {
      client: offline,
      onProgress: (p) => events.push(p),
      sink: { accept: (n) => void names.push(n) },
    });
    expect(second.report!.fromCache).toBe(true);
    expect(names).toEqual(sinkNames);
    expect(second.weightBytes).toBe(first.weightBytes);
    expect(events.some((e) => e.phase === 'weights' && e.fromCache)).toBe(true);
    // A repo without the optional tokenizer_config.json (and sharded): the 404 is remembered, so offline works too.
    await loadModelFiles(online.source('test-org/tiny-pythia'), { client: online, sink: { accept() {} } });
    const again = await loadModelFiles(offline.source('test-org/tiny-pythia'), { client: offline, sink: { accept() {} } });
    expect(again.tokenizerConfig).toBeNull();
    expect(again.report!.fromCache).toBe(true);
    expect(await offline.clearCache('test-org/tiny-mamba')).toBe(4);
    await expect(loadModelFiles(offline.source('test-org/tiny-mamba'), { client: offline })).rejects.toMatchObject({ code: 'network' });
  });
});

describe('loadModelFiles', () => {
  it('streams a single-file Mamba checkpoint into a sink with validated names, shapes and bytes', async () => {
    const client = new HubClient({ baseUrl: base, cache: false });
    const events: LoadProgress[] = [];
    const got = new Map<string, { dtype: FloatDtype; shape: number[]; values: number[] }>();
    const files = await loadModelFiles(client.source('test-org/tiny-mamba'), {
      client,
      onProgress: (p) => events.push(p),
      sink: {
        async accept(name, dtype, shape, bytes) {
          expectTensor(mambaConfig, name, shape);
          got.set(name, { dtype, shape, values: Array.from(toF32(dtype, bytes)) });
        },
      },
    });
    expect(files.config).toEqual(mambaConfig);
    expect(files.tokenizerConfig).toEqual(TINY_TOKENIZER_CONFIG);
    expect(new TextTokenizer(files.tokenizerJson, files.tokenizerConfig).encode('hello')).toHaveLength(1);
    expect(got.size).toBe(mambaTensors.length);
    for (const t of mambaTensors) expect(got.get(t.name)!.values).toEqual(expectedBytes(t));
    const w = events.filter((e) => e.phase === 'weights');
    expect(w[w.length - 1].weightsLoaded).toBe(files.weightBytes);
    expect(events[events.length - 1].phase).toBe('done');
    expect(events.some((e) => e.phase === 'config')).toBe(true);
  });

  it('loads a sharded GPT-NeoX checkpoint, skipping Pythia buffers', async () => {
    const client = new HubClient({ baseUrl: base, cache: false });
    const files = await loadModelFiles(client.source('test-org/tiny-pythia'), { client });
    expect(files.tokenizerConfig).toBeNull();
    const names: string[] = [];
    const report = await files.loadWeights({
      accept(name, dtype, shape, bytes) {
        expect(dtype).toBe('F16');
        expect(bytes.byteLength).toBe(shape.reduce((a, b) => a * b, 1) * 2);
        names.push(name);
      },
    });
    expect(names.sort()).toEqual(neoxTensors.map((t) => t.name).sort());
    expect(report.ignored.sort()).toEqual([
      'gpt_neox.layers.0.attention.bias', 'gpt_neox.layers.0.attention.masked_bias', 'gpt_neox.layers.0.attention.rotary_emb.inv_freq',
      'gpt_neox.layers.1.attention.bias', 'gpt_neox.layers.1.attention.masked_bias', 'gpt_neox.layers.1.attention.rotary_emb.inv_freq',
    ]);
    expect(report.files).toHaveLength(2);
    // the same through the async iterable
    const iterNames: string[] = [];
    for await (const t of files.tensors()) iterNames.push(t.name);
    expect(iterNames.sort()).toEqual(names);
    // breaking out early cancels cleanly
    for await (const t of files.tensors()) {
      expect(t.name).toBeTruthy();
      break;
    }
  });

  it('loads the static demo layout', async () => {
    const files = await loadModelFiles(staticSource(`${base}/models/demo-mamba`, 'demo-mamba'), { client: new HubClient({ cache: false }) });
    expect(files.config.arch).toBe('mamba');
    const report = await files.loadWeights({ accept() {} });
    expect(report.tensors).toHaveLength(mambaTensors.length);
  });

  it('fails fast on shape mismatches and missing tensors, naming file and tensor', async () => {
    const client = new HubClient({ baseUrl: base, cache: false });
    let accepted = 0;
    const bad = await loadModelFiles(client.source('test-org/bad-shape'), { client });
    await expect(bad.loadWeights({ accept: () => void accepted++ })).rejects.toThrow(
      'model.safetensors of test-org/bad-shape: tensor backbone.layers.1.mixer.A_log has shape [32, 2], config expects [32, 4]',
    );
    expect(accepted).toBe(0); // checked against the header, before any weights were handed over
    const missing = await loadModelFiles(client.source('test-org/missing'), { client });
    await expect(missing.loadWeights({ accept() {} })).rejects.toThrow(
      /model.safetensors of test-org\/missing: 1 tensor\(s\) the Mamba config needs are missing: backbone.norm_f.weight/,
    );
    expect(() => expectTensor(mambaConfig, 'backbone.layers.0.mixer.A_log', [32, 8])).toThrow(
      'model.safetensors: tensor backbone.layers.0.mixer.A_log has shape [32, 8], config expects [32, 4]',
    );
    expect(() => expectTensor(mambaConfig, 'foo', [1])).toThrow(/unexpected tensor foo/);
  });

  it('cancels a weight load with an AbortSignal', async () => {
    const client = new HubClient({ baseUrl: base, cache: false });
    const files = await loadModelFiles(client.source('test-org/tiny-pythia'), { client });
    const ctl = new AbortController();
    let n = 0;
    await expect(files.loadWeights({ accept: () => { if (++n === 3) ctl.abort(); } }, { signal: ctl.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(n).toBe(3);
  });
});

// Real transformers-written checkpoints (tools/make_golden.py → tests/fixtures/hub/tiny-random/<repo>/resolve/main/),
// when present: served by tools/hub-server.mjs, loaded end to end, names/shapes validated against the config.
const FIXTURE_HUB = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../fixtures/hub');
const fixtureRepos = existsSync(path.join(FIXTURE_HUB, 'tiny-random'))
  ? readdirSync(path.join(FIXTURE_HUB, 'tiny-random')).filter((r) => existsSync(path.join(FIXTURE_HUB, 'tiny-random', r, 'resolve/main/config.json')))
  : [];

describe('tiny-random fixtures (transformers-written)', () => {
  it.skipIf(fixtureRepos.length === 0)(`loads every fixture repo through the hub layout (${fixtureRepos.length} found)`, async () => {
    const srv = await startHubServer({ root: FIXTURE_HUB });
    try {
      const client = new HubClient({ baseUrl: srv.url, cache: false });
      for (const repo of fixtureRepos) {
        // repos without a tokenizer (mamba_ssm's layout, like state-spaces/*) take tiny-random/mamba's
        const files = await loadModelFiles(client.source(`tiny-random/${repo}`), { client, tokenizerSource: client.source('tiny-random/mamba') });
        let n = 0;
        const report = await files.loadWeights({ accept: () => void n++ });
        expect(n, repo).toBeGreaterThan(0);
        expect(report.unexpected, `${repo}: tensors the config doesn't explain`).toEqual([]);
        const tok = new TextTokenizer(files.tokenizerJson, files.tokenizerConfig);
        expect(tok.vocabSize, repo).toBeGreaterThan(0);
      }
    } finally {
      await srv.close();
    }
  });
});
