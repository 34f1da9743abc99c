/**
 * Before a hub model loads, the page reads its config.json (a supported architecture, on the right side of the pair)
 * and sizes the download from the server, without fetching any weights.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer } from '../../tools/hub-server.mjs';
import { hubSource } from '../../src/hub/hub';
import { inspectModel } from '../../src/app/inspect';

let server: Awaited<ReturnType<typeof startHubServer>>;
beforeAll(async () => {
  server = await startHubServer({ root: 'tests/fixtures/hub' });
});
afterAll(() => server?.close());

describe('checking a hub model before loading it', () => {
  it('reads the config, counts parameters and sizes the weights without downloading them', async () => {
    const c = await inspectModel(hubSource('tiny-random/pythia', { baseUrl: server.url }), 'transformer');
    expect(c.config.arch).toBe('gpt-neox');
    expect(c.trainedContext).toBe(2048);
    expect(c.sizeExact).toBe(true);
    expect(c.downloadBytes).toBeGreaterThan(665504); // model.safetensors + tokenizer and config
    expect(c.params).toBeGreaterThan(0);
    expect(c.cached).toBe(false);
    expect(server.requests.filter((r) => r.path.endsWith('.safetensors') && r.method === 'GET')).toEqual([]);
    const m = await inspectModel(hubSource('tiny-random/mamba', { baseUrl: server.url }), 'mamba');
    expect(m.trainedContext).toBeNull();
  });

  it('refuses a model on the wrong side and a repo that does not exist, with codes the page explains', async () => {
    await expect(inspectModel(hubSource('tiny-random/mamba', { baseUrl: server.url }), 'transformer')).rejects.toMatchObject({
      code: 'wrong-side', message: 'tiny-random/mamba is a Mamba model, not a model for the Transformer side.',
    });
    await expect(inspectModel(hubSource('tiny-random/nothing-here', { baseUrl: server.url }), 'mamba')).rejects.toMatchObject({ code: 'not-found', status: 404 });
  });
});
