/** The tiny random fixtures (tests/fixtures/hub/tiny-random) served under real repo names, for e2e tests that load
 *  hub models from a local server in the hub's URL layout (tools/hub-server.mjs). */
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const FIX = path.resolve('tests/fixtures/hub/tiny-random');

/** A new temporary hub root where each repo (owner/name) links to a fixture's files: { 'EleutherAI/pythia-160m': 'pythia' }. */
export function linkedHubRoot(repos: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'e2e-hub-'));
  for (const [repo, fixture] of Object.entries(repos)) {
    mkdirSync(path.dirname(path.join(root, repo)), { recursive: true });
    symlinkSync(path.join(FIX, fixture, 'resolve/main'), path.join(root, repo), 'dir');
  }
  return root;
}
