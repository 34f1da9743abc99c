// Hub access: URLs for Hugging Face repos (or a local server with the same layout) and for static model folders
// served by the app itself; fetch with per-file byte progress, cancellation (AbortSignal) and, in the browser,
// Cache Storage ('hub-v1', keyed by URL) so a second open works offline. Works in a Web Worker and in Node (no
// caching there: `caches` is undefined).

import { BIN_INDEX_FILE, BIN_SINGLE_FILE } from './torch-bin';
import { INDEX_FILE, SINGLE_FILE, parseShardIndex, readHeaderLength, parseSafetensorsHeader, type SafetensorsHeader, type ShardIndex } from './safetensors';
import { parseJson } from './json';

export const DEFAULT_HUB_URL = 'https://huggingface.co';
export const CACHE_NAME = 'hub-v1';
/** Marks a cache entry that records a 404 (see FetchOptions.cacheNotFound). */
const NOT_FOUND_HEADER = 'x-hub-not-found';

/** Where a model's files live. 'hub': `${baseUrl}/${repo}/resolve/${revision}/${file}`; 'static': `${baseUrl}/${file}`. */
export type ModelSource =
  | { kind: 'hub'; repo: string; baseUrl?: string; revision?: string }
  | { kind: 'static'; baseUrl: string; label?: string };

export function hubSource(repo: string, opts: { baseUrl?: string; revision?: string } = {}): ModelSource {
  return { kind: 'hub', repo, ...opts };
}

/** A model folder on a plain static server, e.g. staticSource(`${location.origin}/models/demo-mamba`). */
export function staticSource(baseUrl: string, label?: string): ModelSource {
  return { kind: 'static', baseUrl, label };
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

export function fileUrl(source: ModelSource, file: string): string {
  if (source.kind === 'hub') {
    const base = trimSlash(source.baseUrl ?? DEFAULT_HUB_URL);
    return `${base}/${encodePath(source.repo)}/resolve/${encodeURIComponent(source.revision ?? 'main')}/${encodePath(file)}`;
  }
  return `${trimSlash(source.baseUrl)}/${encodePath(file)}`;
}

/** A short human name for messages: the repo id, or the static folder. */
export function sourceLabel(source: ModelSource): string {
  if (source.kind === 'hub') return source.revision && source.revision !== 'main' ? `${source.repo}@${source.revision}` : source.repo;
  return source.label ?? source.baseUrl;
}

export type HubErrorCode = 'not-found' | 'http' | 'network' | 'aborted' | 'bad-json' | 'bad-response';

export class HubError extends Error {
  constructor(
    message: string,
    readonly code: HubErrorCode,
    readonly url?: string,
    readonly status?: number,
  ) {
    super(message);
    // Aborts keep the conventional name so `e.name === 'AbortError'` checks work.
    this.name = code === 'aborted' ? 'AbortError' : 'HubError';
  }
}

export function isAbortError(e: unknown): boolean {
  return !!e && typeof e === 'object' && (e as { name?: unknown }).name === 'AbortError';
}

export interface FileProgress {
  file: string;
  url: string;
  loaded: number;
  /** from Content-Length; null when unknown */
  total: number | null;
  fromCache: boolean;
  done: boolean;
}

export interface FetchOptions {
  signal?: AbortSignal;
  onProgress?: (p: FileProgress) => void;
  /**
   * Remember a 404 in the cache (for optional files such as tokenizer_config.json), so an offline reload knows the
   * file doesn't exist instead of failing on the network.
   */
  cacheNotFound?: boolean;
}

export interface HubFile {
  file: string;
  url: string;
  /** Content-Length (null when unknown or content-encoded) */
  size: number | null;
  fromCache: boolean;
  /** the bytes; read it to the end (the cache entry is written only then) */
  body: ReadableStream<Uint8Array>;
  /** resolves true once the body is stored in Cache Storage; false when not cached (Node, cache hit, error) */
  cacheWrite: Promise<boolean>;
}

/** The subset of the Cache Storage API we use (lets tests inject an in-memory one). */
export interface CacheLike {
  match(url: string): Promise<Response | undefined>;
  put(url: string, response: Response): Promise<void>;
  delete(url: string): Promise<boolean>;
  keys?(): Promise<readonly Request[]>;
}
export interface CacheStorageLike {
  open(name: string): Promise<CacheLike>;
  delete?(name: string): Promise<boolean>;
}

export interface HubClientOptions {
  baseUrl?: string;
  revision?: string;
  /** true (default): use globalThis.caches when it exists; false: never; or a CacheStorage-like object */
  cache?: boolean | CacheStorageLike;
  cacheName?: string;
  fetch?: typeof fetch;
}

/** 'safetensors': model.safetensors (+ index); 'pytorch': torch.save's zip format, pytorch_model.bin (+ index). */
export type WeightFormat = 'safetensors' | 'pytorch';

export type WeightFiles =
  | { kind: 'single'; format: WeightFormat; files: string[] }
  | { kind: 'sharded'; format: WeightFormat; files: string[]; index: ShardIndex };

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message;
  }
  return String(e);
}

export class HubClient {
  readonly baseUrl: string;
  readonly revision: string;
  readonly cacheName: string;
  private readonly fetchFn: typeof fetch;
  private readonly cacheStorage: CacheStorageLike | null;
  private cachePromise: Promise<CacheLike | null> | null = null;

  constructor(opts: HubClientOptions = {}) {
    this.baseUrl = trimSlash(opts.baseUrl ?? DEFAULT_HUB_URL);
    this.revision = opts.revision ?? 'main';
    this.cacheName = opts.cacheName ?? CACHE_NAME;
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const g = globalThis as { caches?: CacheStorageLike };
    if (opts.cache === false) this.cacheStorage = null;
    else if (opts.cache && typeof opts.cache === 'object') this.cacheStorage = opts.cache;
    else this.cacheStorage = g.caches ?? null;
  }

  /** `${baseUrl}/${repo}/resolve/${revision}/${file}` */
  url(repo: string, file: string): string {
    return fileUrl(this.source(repo), file);
  }

  /** A hub source on this client's server and revision. */
  source(repo: string): ModelSource {
    return { kind: 'hub', repo, baseUrl: this.baseUrl, revision: this.revision };
  }

  private resolve(src: string | ModelSource): ModelSource {
    return typeof src === 'string' ? this.source(src) : src;
  }

  get caching(): boolean {
    return this.cacheStorage !== null;
  }

  private cache(): Promise<CacheLike | null> {
    if (!this.cacheStorage) return Promise.resolve(null);
    this.cachePromise ??= this.cacheStorage.open(this.cacheName).catch((e) => {
      console.warn(`hub: Cache Storage unavailable (${describe(e)}); downloads will not be cached`);
      return null;
    });
    return this.cachePromise;
  }

  /** A cached response for `url`; remembered 404s are returned only with `notFound`. */
  private async cached(url: string, notFound = false): Promise<Response | undefined> {
    const cache = await this.cache();
    if (!cache) return undefined;
    try {
      const hit = await cache.match(url);
      if (hit && hit.headers.get(NOT_FOUND_HEADER) && !notFound) return undefined;
      return hit;
    } catch {
      return undefined;
    }
  }

  private async doFetch(url: string, init: RequestInit, file: string, where: string): Promise<Response> {
    if (init.signal?.aborted) throw new HubError(`download of ${file} from ${where} was cancelled`, 'aborted', url);
    try {
      return await this.fetchFn(url, init);
    } catch (e) {
      if (isAbortError(e) || init.signal?.aborted) {
        throw new HubError(`download of ${file} from ${where} was cancelled`, 'aborted', url);
      }
      throw new HubError(`network error fetching ${file} from ${where} (${url}): ${describe(e)}`, 'network', url);
    }
  }

  private httpError(res: Response, file: string, src: ModelSource, url: string): HubError {
    if (res.status === 404) {
      return new HubError(`file ${file} not found in ${src.kind === 'hub' ? 'repo' : 'folder'} ${sourceLabel(src)} at ${url}`, 'not-found', url, 404);
    }
    const hint = res.status === 401 || res.status === 403 ? ' (gated or private repo? only public repos are supported)' : '';
    return new HubError(`HTTP ${res.status} ${res.statusText} fetching ${file} from ${sourceLabel(src)} (${url})${hint}`, 'http', url, res.status);
  }

  /**
   * Fetch one file. Serves it from Cache Storage when present; otherwise downloads it and (when caching) writes it
   * to the cache as the body is read, committing only once it has fully arrived (an aborted or failed download
   * leaves no entry). Progress is reported as the body is read.
   */
  async fetchFile(srcOrRepo: string | ModelSource, file: string, opts: FetchOptions = {}): Promise<HubFile> {
    const src = this.resolve(srcOrRepo);
    const url = fileUrl(src, file);
    const where = sourceLabel(src);
    const { signal, onProgress } = opts;

    const hit = await this.cached(url, true);
    if (hit && hit.headers.get(NOT_FOUND_HEADER)) {
      throw new HubError(`file ${file} not found in ${src.kind === 'hub' ? 'repo' : 'folder'} ${where} at ${url} (remembered)`, 'not-found', url, 404);
    }
    if (hit && hit.body) {
      const size = contentLength(hit);
      return {
        file, url, size, fromCache: true,
        body: this.wrapBody(hit.body, { file, url, size, fromCache: true, where, signal, onProgress }),
        cacheWrite: Promise.resolve(false),
      };
    }

    const res = await this.doFetch(url, { signal }, file, where);
    if (!res.ok || (src.kind === 'static' && isHtmlFallback(res, file))) {
      res.body?.cancel().catch(() => {});
      const err = res.ok
        ? new HubError(`file ${file} not found in folder ${where} at ${url} (the server answered with an HTML page)`, 'not-found', url, 404)
        : this.httpError(res, file, src, url);
      if (err.code === 'not-found' && opts.cacheNotFound) await this.rememberNotFound(url);
      throw err;
    }
    if (!res.body) throw new HubError(`empty response body for ${file} from ${where} (${url})`, 'bad-response', url, res.status);
    const size = contentLength(res);

    let cacheWrite: Promise<boolean> = Promise.resolve(false);
    const bodyFailed = { value: false };
    let cacheCtl: ReadableStreamDefaultController<Uint8Array> | null = null;
    const cache = await this.cache();
    if (cache) {
      // A stream we push each chunk into as the consumer reads it: the cache write follows the consumer's pace, so
      // no second copy of the file piles up in memory (a tee would buffer when one branch is slower).
      const cacheBody = new ReadableStream<Uint8Array>({ start: (c) => void (cacheCtl = c) });
      const headers = new Headers();
      for (const h of ['content-type', 'content-length', 'etag', 'last-modified']) {
        const v = res.headers.get(h);
        if (v !== null && !(h === 'content-length' && size === null)) headers.set(h, v);
      }
      headers.set('x-hub-cached-at', new Date().toISOString());
      cacheWrite = cache.put(url, new Response(cacheBody, { status: 200, headers })).then(
        () => true,
        (e) => {
          // A failed or cancelled download also fails the put (browsers report it as a network error): say nothing.
          if (!bodyFailed.value) console.warn(`hub: could not cache ${url}: ${describe(e)}`);
          // Make sure no partial entry survives.
          return cache.delete(url).then(() => false, () => false);
        },
      );
    }
    return {
      file, url, size, fromCache: false,
      body: this.wrapBody(res.body, { file, url, size, fromCache: false, where, signal, onProgress, cacheCtl, bodyFailed }),
      cacheWrite,
    };
  }

  private wrapBody(
    body: ReadableStream<Uint8Array>,
    o: {
      file: string; url: string; size: number | null; fromCache: boolean; where: string;
      signal?: AbortSignal; onProgress?: (p: FileProgress) => void;
      cacheCtl?: ReadableStreamDefaultController<Uint8Array> | null;
      bodyFailed?: { value: boolean };
    },
  ): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    let loaded = 0;
    let finished = false;
    let outCtl: ReadableStreamDefaultController<Uint8Array>;
    const abortErr = () => new HubError(`download of ${o.file} from ${o.where} was cancelled`, 'aborted', o.url);
    const fail = (err: unknown) => {
      if (finished) return;
      finished = true;
      if (o.bodyFailed) o.bodyFailed.value = true;
      o.signal?.removeEventListener('abort', onAbort);
      try { o.cacheCtl?.error(err); } catch { /* closed */ }
      try { outCtl.error(err); } catch { /* closed */ }
      reader.cancel(err).catch(() => {});
    };
    const onAbort = () => fail(abortErr());
    // (A Content-Length smaller than what arrives means an encoded body whose encoding header we can't see: drop it.)
    const report = (done: boolean) =>
      o.onProgress?.({
        file: o.file, url: o.url, loaded,
        total: o.size !== null && loaded <= o.size ? o.size : done ? loaded : null,
        fromCache: o.fromCache, done,
      });
    return new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          outCtl = c;
          if (o.signal?.aborted) fail(abortErr());
          else o.signal?.addEventListener('abort', onAbort, { once: true });
          report(false);
        },
        pull: async (c) => {
          if (finished) return;
          let r: ReadableStreamReadResult<Uint8Array>;
          try {
            r = await reader.read();
          } catch (e) {
            fail(o.signal?.aborted || isAbortError(e) ? abortErr()
              : new HubError(`network error while downloading ${o.file} from ${o.where} (${o.url}) after ${loaded} bytes: ${describe(e)}`, 'network', o.url));
            return;
          }
          if (finished) return;
          if (o.signal?.aborted) return fail(abortErr());
          if (r.done) {
            if (o.size !== null && loaded < o.size) {
              return fail(new HubError(`download of ${o.file} from ${o.where} ended early: got ${loaded} of ${o.size} bytes`, 'network', o.url));
            }
            finished = true;
            o.signal?.removeEventListener('abort', onAbort);
            report(true);
            try { o.cacheCtl?.close(); } catch { /* closed */ }
            c.close();
            return;
          }
          loaded += r.value.byteLength;
          report(false);
          o.cacheCtl?.enqueue(r.value);
          c.enqueue(r.value);
        },
        cancel: (reason) => {
          if (finished) return;
          finished = true;
          if (o.bodyFailed) o.bodyFailed.value = true;
          o.signal?.removeEventListener('abort', onAbort);
          try { o.cacheCtl?.error(reason ?? abortErr()); } catch { /* closed */ }
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
  }

  private async rememberNotFound(url: string): Promise<void> {
    const cache = await this.cache();
    if (!cache) return;
    try {
      await cache.put(url, new Response('not found', { status: 404, headers: { [NOT_FOUND_HEADER]: '1' } }));
    } catch {
      /* best effort */
    }
  }

  /** The whole file as bytes. */
  async fetchBytes(src: string | ModelSource, file: string, opts: FetchOptions = {}): Promise<Uint8Array> {
    const f = await this.fetchFile(src, file, opts);
    const chunks: Uint8Array[] = [];
    let n = 0;
    const reader = f.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      n += value.byteLength;
    }
    const out = new Uint8Array(n);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.byteLength;
    }
    await f.cacheWrite;
    return out;
  }

  async fetchText(src: string | ModelSource, file: string, opts: FetchOptions = {}): Promise<string> {
    return new TextDecoder().decode(await this.fetchBytes(src, file, opts));
  }

  async fetchJson<T = unknown>(src: string | ModelSource, file: string, opts: FetchOptions = {}): Promise<T> {
    const text = await this.fetchText(src, file, opts);
    try {
      return parseJson(text) as T;
    } catch (e) {
      const s = this.resolve(src);
      throw new HubError(
        `${file} from ${sourceLabel(s)} is not valid JSON (${(e as Error).message}); it starts with ${JSON.stringify(text.slice(0, 80))}`,
        'bad-json', fileUrl(s, file),
      );
    }
  }

  /** Whether a file exists: the cache first (works offline), then a HEAD request. 404 → false; other failures throw. */
  async exists(srcOrRepo: string | ModelSource, file: string, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    const src = this.resolve(srcOrRepo);
    const url = fileUrl(src, file);
    if (await this.cached(url)) return true;
    const res = await this.doFetch(url, { method: 'HEAD', signal: opts.signal }, file, sourceLabel(src));
    res.body?.cancel().catch(() => {});
    if (res.status === 404) return false;
    if (!res.ok) throw this.httpError(res, file, src, url);
    if (src.kind === 'static' && isHtmlFallback(res, file)) return false;
    return true;
  }

  /** File size via HEAD (Content-Length), from the cache when there; null if the server doesn't say. */
  async fileSize(srcOrRepo: string | ModelSource, file: string, opts: { signal?: AbortSignal } = {}): Promise<number | null> {
    const src = this.resolve(srcOrRepo);
    const url = fileUrl(src, file);
    const hit = await this.cached(url);
    if (hit) {
      hit.body?.cancel().catch(() => {});
      return contentLength(hit);
    }
    const res = await this.doFetch(url, { method: 'HEAD', signal: opts.signal }, file, sourceLabel(src));
    res.body?.cancel().catch(() => {});
    if (!res.ok) throw this.httpError(res, file, src, url);
    return contentLength(res);
  }

  /**
   * Bytes [start, end) of a file via a Range request (not cached). Returns null when the server ignores Range
   * (answers 200), after cancelling the body. `total` comes from Content-Range.
   */
  async fetchRange(
    srcOrRepo: string | ModelSource, file: string, start: number, end: number, opts: { signal?: AbortSignal } = {},
  ): Promise<{ bytes: Uint8Array; total: number | null } | null> {
    const src = this.resolve(srcOrRepo);
    const url = fileUrl(src, file);
    const res = await this.doFetch(url, { headers: { Range: `bytes=${start}-${end - 1}` }, signal: opts.signal }, file, sourceLabel(src));
    if (res.status === 200) {
      res.body?.cancel().catch(() => {});
      return null;
    }
    if (res.status !== 206) {
      res.body?.cancel().catch(() => {});
      throw this.httpError(res, file, src, url);
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    const m = /\/(\d+)\s*$/.exec(res.headers.get('content-range') ?? '');
    return { bytes, total: m ? Number(m[1]) : null };
  }

  /**
   * A safetensors file's header (tensor names, dtypes, shapes, sizes) and total size, fetched with two small Range
   * requests, without downloading the weights. Null when the server doesn't support Range.
   */
  async fetchSafetensorsHeader(
    srcOrRepo: string | ModelSource, file: string, opts: { signal?: AbortSignal } = {},
  ): Promise<{ header: SafetensorsHeader; fileSize: number | null } | null> {
    const first = await this.fetchRange(srcOrRepo, file, 0, 8, opts);
    if (!first) return null;
    const n = readHeaderLength(first.bytes, file);
    const rest = await this.fetchRange(srcOrRepo, file, 8, 8 + n, opts);
    if (!rest) return null;
    return { header: parseSafetensorsHeader(rest.bytes, { fileName: file, fileSize: first.total }), fileSize: first.total };
  }

  /**
   * Which weight files a model has, safetensors first: model.safetensors, model.safetensors.index.json and its shards,
   * then PyTorch's pytorch_model.bin, pytorch_model.bin.index.json and its shards. Uses the cache first, so it works
   * offline after a complete first load.
   */
  async listFiles(srcOrRepo: string | ModelSource, opts: { signal?: AbortSignal } = {}): Promise<WeightFiles> {
    const src = this.resolve(srcOrRepo);
    const layouts: { format: WeightFormat; single: string; index: string; ext: string }[] = [
      { format: 'safetensors', single: SINGLE_FILE, index: INDEX_FILE, ext: '.safetensors' },
      { format: 'pytorch', single: BIN_SINGLE_FILE, index: BIN_INDEX_FILE, ext: '.bin' },
    ];
    // Offline first: whatever a complete earlier load left in the cache.
    for (const l of layouts) {
      if (await this.cached(fileUrl(src, l.single))) return { kind: 'single', format: l.format, files: [l.single] };
      if (await this.cached(fileUrl(src, l.index))) return this.shardList(src, l, opts);
    }
    for (const l of layouts) {
      if (await this.exists(src, l.single, opts)) return { kind: 'single', format: l.format, files: [l.single] };
      if (await this.exists(src, l.index, opts)) return this.shardList(src, l, opts);
    }
    throw new HubError(
      `no weights in ${sourceLabel(src)}: none of ${SINGLE_FILE}, ${INDEX_FILE}, ${BIN_SINGLE_FILE}, ${BIN_INDEX_FILE} exists at ${fileUrl(src, '')}`,
      'not-found', fileUrl(src, SINGLE_FILE), 404,
    );
  }

  private async shardList(src: ModelSource, l: { format: WeightFormat; index: string; ext: string }, opts: { signal?: AbortSignal }): Promise<WeightFiles> {
    const json = await this.fetchJson(src, l.index, opts);
    const index = parseShardIndex(json, `${l.index} of ${sourceLabel(src)}`, l.ext);
    return { kind: 'sharded', format: l.format, files: index.shards, index };
  }

  /** Remove a model's files (or everything) from Cache Storage. Returns the number of entries deleted. */
  async clearCache(src?: string | ModelSource): Promise<number> {
    const cache = await this.cache();
    if (!cache || !cache.keys) return 0;
    const prefix = src ? fileUrl(this.resolve(src), '') : '';
    let n = 0;
    for (const req of await cache.keys()) {
      if (req.url.startsWith(prefix) && (await cache.delete(req.url))) n++;
    }
    return n;
  }
}

function contentLength(res: Response): number | null {
  const enc = res.headers.get('content-encoding');
  if (enc && enc !== 'identity') return null; // Content-Length counts compressed bytes; the body is decompressed
  const v = res.headers.get('content-length');
  if (v === null) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/** A static server's SPA fallback (e.g. Vite) answers 200 text/html for missing files. */
function isHtmlFallback(res: Response, file: string): boolean {
  return /^text\/html/i.test(res.headers.get('content-type') ?? '') && !/\.html?$/i.test(file);
}
