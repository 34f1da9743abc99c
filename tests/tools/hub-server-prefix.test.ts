/**
 * tools/hub-server.mjs with a prefix: serves a folder as a static host serves a project site (the hosted-page e2e
 * serves dist/ this way): only under the prefix, index.html for a folder, a redirect for the prefix without its
 * slash, 404 elsewhere (no fallback page), and the content types a browser needs for module scripts.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer, type HubServer } from '../../tools/hub-server.mjs';

let server: HubServer;
beforeAll(async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'site-'));
  mkdirSync(path.join(root, 'assets'));
  mkdirSync(path.join(root, 'models', 'm'), { recursive: true });
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>site</title>');
  writeFileSync(path.join(root, 'assets', 'app.js'), 'export {};');
  writeFileSync(path.join(root, 'assets', 'app.css'), 'body{}');
  writeFileSync(path.join(root, 'favicon.svg'), '<svg/>');
  writeFileSync(path.join(root, 'models', 'm', 'config.json'), '{"model_type":"mamba"}');
  server = await startHubServer({ root, prefix: '/sub/' });
});
afterAll(() => server?.close());

const get = (p: string) => fetch(server.url + p, { redirect: 'manual' });

describe('hub-server with a prefix', () => {
  it('serves the folder under the prefix, with the types a browser needs', async () => {
    expect(server.siteUrl).toBe(`${server.url}/sub/`);
    const index = await get('/sub/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await index.text()).toContain('<title>site</title>');
    for (const [p, type] of [['/sub/assets/app.js', /^text\/javascript/], ['/sub/assets/app.css', /^text\/css/], ['/sub/favicon.svg', /^image\/svg\+xml/], ['/sub/models/m/config.json', /^application\/json/]] as const) {
      const r = await get(p);
      expect(r.status, p).toBe(200);
      expect(r.headers.get('content-type'), p).toMatch(type);
    }
  });

  it('redirects the prefix without its slash, and answers 404 outside it or for a missing file (no fallback page)', async () => {
    const r = await get('/sub?tab=compare');
    expect(r.status).toBe(301);
    expect(r.headers.get('location')).toBe('/sub/?tab=compare');
    for (const p of ['/', '/index.html', '/models/m/config.json', '/sub/missing.js', '/sub/assets/', '/subx/index.html']) {
      const x = await get(p);
      expect(x.status, p).toBe(404);
      expect(await x.text(), p).toContain('404');
    }
    expect(server.requests.some((q) => q.path === '/models/m/config.json' && q.status === 404)).toBe(true);
  });

  it('refuses a prefix without slashes at both ends', async () => {
    await expect(startHubServer({ root: '.', prefix: 'sub' })).rejects.toThrow(/prefix/);
    await expect(startHubServer({ root: '.', prefix: '/sub' })).rejects.toThrow(/prefix/);
  });
});
