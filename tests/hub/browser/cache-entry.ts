// Bundled by cache-check.mts and run in real Chromium: Cache Storage behaviour of HubClient (abort → no entry, offline reload).
import { HubClient } from '../../../src/hub/hub';
import { loadModelFiles } from '../../../src/hub/weights';
import { streamSafetensors } from '../../../src/hub/safetensors';
(globalThis as any).runHubChecks = async (base: string) => {
  const out: Record<string, unknown> = {};
  await caches.delete('hub-v1');
  const client = new HubClient({ baseUrl: base });
  out.caching = client.caching;
  // abort mid-download
  const ctl = new AbortController();
  const f = await client.fetchFile('test-org/big', 'model.safetensors', { signal: ctl.signal, onProgress: (p) => { if (p.loaded > 0) ctl.abort(); } });
  try { await streamSafetensors(f.body, { signal: ctl.signal, onTensor: () => {} }); out.abort = 'no error'; } catch (e: any) { out.abort = `${e.name}: ${e.message}`; }
  out.abortCacheWrite = await f.cacheWrite;
  out.afterAbortKeys = (await (await caches.open('hub-v1')).keys()).map((r) => r.url);
  // full load
  const names: string[] = [];
  const first = await loadModelFiles(client.source('test-org/tiny-mamba'), { client, sink: { accept: (n) => void names.push(n) } });
  out.firstFromCache = first.report!.fromCache;
  out.keys = (await (await caches.open('hub-v1')).keys()).map((r) => r.url.slice(base.length));
  const offline = new HubClient({ baseUrl: base, fetch: () => Promise.reject(new TypeError('offline')) });
  const names2: string[] = [];
  const second = await loadModelFiles(offline.source('test-org/tiny-mamba'), { client: offline, sink: { accept: (n) => void names2.push(n) } });
  out.secondFromCache = second.report!.fromCache;
  out.sameNames = JSON.stringify(names) === JSON.stringify(names2) && names.length > 0;
  // big full download then cached
  const big = await client.fetchBytes('test-org/big', 'model.safetensors');
  out.bigLen = big.byteLength;
  const bigHit = await (await caches.open('hub-v1')).match(`${base}/test-org/big/resolve/main/model.safetensors`);
  out.bigCachedLen = bigHit ? (await bigHit.arrayBuffer()).byteLength : null;
  return out;
};
