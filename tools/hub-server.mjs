#!/usr/bin/env node
// A tiny static file server with the Hugging Face hub's URL layout, for tests and e2e:
//   GET/HEAD /{org}/{repo}/resolve/{revision}/{file...}  →  {root}/{org}/{repo}/{file...}   (revision is ignored),
//                                                           else {root}/{org}/{repo}/resolve/{revision}/{file...}
//   GET/HEAD /{path...}                                  →  {root}/{path...}                 (plain static layout)
// Content-Length, Accept-Ranges + single Range requests (206 / 416), CORS (any origin, Range allowed, sizes
// exposed), 404 with a plain-text body naming the path. Binds 127.0.0.1 on an ephemeral or given port.
// With a prefix (e.g. /mamba-vs-transformer/) it serves root only under that path, as a static host serves a project
// site: {prefix}{path} → {root}/{path}, a folder → its index.html, {prefix without the slash} → 301 to the prefix,
// anything else 404 (no fallback page, like GitHub Pages).
//
// CLI:  node tools/hub-server.mjs --root DIR [--port N] [--host 127.0.0.1] [--throttle BYTES_PER_SEC] [--prefix /sub/]
// API:  const srv = await startHubServer({ root, port?, host?, throttleBytesPerSec?, prefix? }); srv.url; srv.requests; await srv.close()

import { createServer } from 'node:http';
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const TYPES = {
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/plain; charset=utf-8',
};

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
  'Access-Control-Allow-Headers': 'Range, Content-Type',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges, ETag, Content-Type',
};

/**
 * Candidate file paths under root for a URL path (null if it escapes root). For /{org}/{repo}/resolve/{rev}/{file}
 * the repo-folder layout {root}/{org}/{repo}/{file} is tried first, then the literal path (a tree that stores
 * .../resolve/main/... folders, as tools/make_golden.py writes).
 */
function resolvePaths(root, urlPath) {
  let p;
  try {
    p = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const parts = p.split('/').filter((s) => s.length > 0);
  if (parts.some((s) => s === '..' || s === '.' || s.includes('\\') || s.includes('\0'))) return null;
  const inside = (full) => full === root || full.startsWith(root + path.sep);
  const out = [];
  if (parts.length >= 5 && parts[2] === 'resolve') out.push(path.resolve(root, ...parts.slice(0, 2), ...parts.slice(4)));
  out.push(path.resolve(root, ...parts));
  return out.every(inside) ? out : null;
}

function parseRange(header, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start;
  let end;
  if (m[1] === '') {
    const n = Number(m[2]); // suffix: last n bytes
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

function throttled(stream, bytesPerSec) {
  if (!bytesPerSec) return stream;
  stream.on('data', (chunk) => {
    stream.pause();
    setTimeout(() => stream.resume(), (chunk.length / bytesPerSec) * 1000);
  });
  return stream;
}

export async function startHubServer({ root, port = 0, host = '127.0.0.1', throttleBytesPerSec = 0, log = false, prefix = '/' } = {}) {
  if (!root) throw new Error('startHubServer: root is required');
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) throw new Error(`startHubServer: prefix must start and end with "/" (got ${prefix})`);
  const absRoot = path.resolve(root);
  const requests = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const entry = { method: req.method, path: url.pathname, range: req.headers.range ?? null, status: 0 };
    requests.push(entry);
    const send = (status, headers, body) => {
      entry.status = status;
      res.writeHead(status, { ...CORS, ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
      if (log) console.log(`${req.method} ${url.pathname} → ${status}`);
    };
    if (req.method === 'OPTIONS') return send(204, { 'Access-Control-Max-Age': '600' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD, OPTIONS' }, `method ${req.method} not allowed\n`);
    }
    if (prefix !== '/' && url.pathname === prefix.slice(0, -1)) return send(301, { Location: prefix + url.search }, '');
    const inPrefix = url.pathname.startsWith(prefix);
    const rel = inPrefix ? url.pathname.slice(prefix.length - 1) : null;
    const candidates = rel === null ? null : resolvePaths(absRoot, rel.endsWith('/') ? `${rel}index.html` : rel);
    let file = null;
    let st = null;
    for (const c of candidates ?? []) {
      try {
        const s = await fsp.stat(c);
        if (s.isFile()) {
          file = c;
          st = s;
          break;
        }
      } catch {
        /* try the next */
      }
    }
    if (!file || !st) {
      const body = `404 Not Found: ${url.pathname}${candidates ? '' : inPrefix ? ' (invalid path)' : ` (outside ${prefix})`}\n`;
      return send(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)) }, body);
    }
    const size = st.size;
    const headers = {
      'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: `"${size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
      'Cache-Control': 'no-cache',
    };
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (req.headers.range) {
      const r = parseRange(req.headers.range, size);
      if (r === 'unsatisfiable' || r === 'invalid') {
        return send(416, { 'Content-Range': `bytes */${size}`, 'Content-Type': 'text/plain; charset=utf-8' }, `416 Range Not Satisfiable: ${req.headers.range} for a ${size}-byte file\n`);
      }
      ({ start, end } = r);
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    const length = size === 0 ? 0 : end - start + 1;
    headers['Content-Length'] = String(length);
    entry.status = status;
    res.writeHead(status, { ...CORS, ...headers });
    if (log) console.log(`${req.method} ${url.pathname} → ${status} (${length} bytes)`);
    if (req.method === 'HEAD' || length === 0) return res.end();
    const stream = throttled(createReadStream(file, { start, end, highWaterMark: 64 * 1024 }), throttleBytesPerSec);
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  });
  // Keep idle connections open well past a client's reuse window (undici keeps them 4 s): a connection closed by the
  // server just as the client reuses it fails with ECONNRESET, which a loaded machine makes likely at Node's 5 s default.
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const addr = server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  return {
    url: `http://${host}:${actualPort}`,
    /** Where root is served: url + prefix. */
    siteUrl: `http://${host}:${actualPort}${prefix}`,
    port: actualPort,
    root: absRoot,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

function parseArgs(argv) {
  const out = { root: null, port: 0, host: '127.0.0.1', throttle: 0, log: true, prefix: '/' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--root') out.root = next();
    else if (a === '--port') out.port = Number(next());
    else if (a === '--host') out.host = next();
    else if (a === '--throttle') out.throttle = Number(next());
    else if (a === '--prefix') out.prefix = next();
    else if (a === '--quiet') out.log = false;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node tools/hub-server.mjs --root DIR [--port N] [--host 127.0.0.1] [--throttle BYTES_PER_SEC] [--prefix /sub/] [--quiet]');
      process.exit(0);
    } else if (!out.root && !a.startsWith('-')) out.root = a;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!out.root) throw new Error('--root DIR is required');
  return out;
}

// Run as a script (not when imported, nor when bundled into another CLI such as dist-bench/recall.mjs).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && /hub-server\.mjs$/.test(process.argv[1] ?? '')) {
  try {
    const args = parseArgs(process.argv.slice(2));
    const srv = await startHubServer({ root: args.root, port: args.port, host: args.host, throttleBytesPerSec: args.throttle, log: args.log, prefix: args.prefix });
    console.log(`hub-server: serving ${srv.root} at ${srv.siteUrl} (hub layout: ${srv.siteUrl}{org}/{repo}/resolve/main/{file})`);
    const stop = () => srv.close().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (e) {
    console.error(`hub-server: ${e.message}`);
    process.exit(1);
  }
}
