/**
 * The tiny random fixtures (tests/fixtures/hub, made by tools/make_golden.py) served in the hub's URL layout by
 * tools/hub-server.mjs for the model tests: one server per test file, started and stopped with the file.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { startHubServer } from '../../tools/hub-server.mjs';
import { HubClient, hubSource } from '../../src/hub/hub';
import { loadModel, type LoadedModel } from '../../src/models/load';
import { gpu } from '../gpu';

export const HUB_ROOT = 'tests/fixtures/hub';

/** Folder of a tiny-random repo's files (config.json, model.safetensors, golden.json, ...). */
export const tinyDir = (name: string) => `${HUB_ROOT}/tiny-random/${name}/resolve/main`;

/** Its golden.json (shape of the fields: docs/demo-models.md). */
export function tinyGolden<T = Record<string, never>>(name: string): T {
  return JSON.parse(readFileSync(`${tinyDir(name)}/golden.json`, 'utf8')) as T;
}

/** Starts the hub server for this test file; load(name) loads tiny-random/<name> onto the file's GPU context (the
 *  adapter's kernel plans, or `tiling`'s: tests/gpu.ts). */
export function tinyHub(): { load(name: string, tiling?: 'gpu' | 'cpu'): Promise<LoadedModel>; url(): string } {
  let server: Awaited<ReturnType<typeof startHubServer>>;
  let client: HubClient;
  beforeAll(async () => {
    server = await startHubServer({ root: HUB_ROOT });
    client = new HubClient({ baseUrl: server.url, cache: false });
  });
  afterAll(() => server?.close());
  return {
    load: async (name, tiling) => loadModel(await gpu(tiling), hubSource(`tiny-random/${name}`, { baseUrl: server.url }), { client }),
    url: () => server.url,
  };
}
