/**
 * The recall lab from the command line: passkey and copy-span probes over context lengths and needle depths, on
 * local model directories (hub layout), with the page's own probe code (src/recall/run.ts) and kernels, on WebGPU
 * through Dawn. Prints a table per probe (accuracy by model and length) and writes every probe as JSON.
 *
 *   npm run recall -- public/models/demo-mamba public/models/demo-pythia --lengths 256,512,1024,2048 --trials 4
 *   npm run recall -- DIR [DIR ...] [--lengths L,L] [--depths D,D] [--trials N] [--probes passkey,copy]
 *                       [--doc FILE] [--seed S] [--json OUT.json]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startHubServer } from '../../tools/hub-server.mjs';
import { GpuContext } from '../gpu/context';
import { acquireNodeDevice } from '../gpu/node';
import { HubClient, staticSource } from '../hub/hub';
import { loadModel } from '../models/load';
import { probeSeed, runCopyProbe, runPasskeyProbe } from '../recall/run';
import type { TextTokenizer } from '../recall/types';

interface Row { model: string; arch: string; probe: 'passkey' | 'copy'; length: number; depth: number; trial: number; score: number; correct: boolean; expected: string; output: string; ms: number }

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const nums = (s: string, what: string) => list(s).map((x) => {
  const v = Number(x);
  if (!Number.isFinite(v)) throw new Error(`--${what}: "${x}" is not a number`);
  return v;
});

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      lengths: { type: 'string', default: '256,512,1024,2048' },
      depths: { type: 'string', default: '0,0.25,0.5,0.75,1' },
      trials: { type: 'string', default: '4' },
      probes: { type: 'string', default: 'passkey,copy' },
      doc: { type: 'string', default: 'public/docs/harbour-ledger.txt' },
      seed: { type: 'string', default: '1' },
      json: { type: 'string' },
    },
  });
  if (positionals.length === 0) {
    console.error('usage: npm run recall -- MODEL_DIR [MODEL_DIR ...] [--lengths 256,512] [--depths 0,0.5,1] [--trials N] [--probes passkey,copy] [--doc FILE] [--json OUT]');
    return 2;
  }
  const lengths = nums(values.lengths, 'lengths');
  const depths = nums(values.depths, 'depths');
  const trials = Number(values.trials);
  const seed = Number(values.seed);
  const probes = list(values.probes);
  for (const p of probes) if (p !== 'passkey' && p !== 'copy') throw new Error(`--probes: unknown probe "${p}" (passkey, copy)`);
  if (depths.some((d) => d < 0 || d > 1)) throw new Error('--depths must be in [0, 1]');
  if (!(trials >= 1 && Number.isInteger(trials))) throw new Error('--trials must be a positive integer');
  const doc = readFileSync(values.doc, 'utf8');
  for (const dir of positionals) {
    if (!existsSync(`${resolve(dir)}/config.json`)) throw new Error(`${dir}/config.json not found: each MODEL_DIR must hold config.json, model.safetensors and tokenizer.json`);
  }

  // a model is named by its folder, or by its path when folder names repeat (e.g. …/resolve/main)
  const short = positionals.map((d) => basename(resolve(d)));
  const names = new Set(short).size === short.length ? short : positionals.map((d) => relative(process.cwd(), resolve(d)) || d);

  const ctx = new GpuContext(await acquireNodeDevice());
  const rows: Row[] = [];
  /** The probes of one cell (model, probe, length) and their mean score (passkey: accuracy). */
  const cell = (model: string, probe: string, length: number) => {
    const c = rows.filter((r) => r.model === model && r.probe === probe && r.length === length);
    return { n: c.length, mean: c.reduce((a, r) => a + r.score, 0) / c.length, seconds: c.reduce((a, r) => a + r.ms, 0) / 1e3 };
  };
  const limits: string[] = [];
  try {
    for (const [di, dir] of positionals.entries()) {
      const server = await startHubServer({ root: resolve(dir) });
      try {
        const model = await loadModel(ctx, staticSource(server.url), { client: new HubClient({ cache: false }) });
        const name = names[di];
        const tok: TextTokenizer = { encode: (s) => model.tokenizer.encode(s, { addSpecialTokens: false }), decode: (ids) => model.tokenizer.decode(ids) };
        const docIds = tok.encode(doc);
        for (const length of lengths) {
          if (length > model.maxContext) { limits.push(`${name}: L=${length} exceeds its context limit ${model.maxContext}`); continue; }
          for (const probe of probes as ('passkey' | 'copy')[]) {
            for (const depth of depths) {
              for (let trial = 0; trial < trials; trial++) {
                const r = probe === 'passkey'
                  ? await runPasskeyProbe(model, tok, docIds, length, depth, probeSeed(seed, length, depth, trial))
                  : await runCopyProbe(model, tok, docIds, length, depth);
                rows.push({ model: name, arch: model.arch, probe, length, depth, trial, ...r });
              }
            }
            const c = cell(name, probe, length);
            console.error(`${name} ${probe} L=${length}: ${c.mean.toFixed(3)} (${c.n} probes, ${c.seconds.toFixed(1)} s)`);
          }
        }
        model.dispose();
      } finally {
        server.close();
      }
    }
  } finally {
    ctx.destroy();
  }

  // one table per probe: rows = models, columns = lengths, cells = mean score (passkey: accuracy)
  const models = [...new Set(rows.map((r) => r.model))];
  for (const probe of probes) {
    console.log(`\n${probe} (${probe === 'passkey' ? 'exact-match accuracy' : 'fraction of continuation tokens copied'}; ${depths.length} depths × ${trials} trials per cell)\n`);
    console.log(`| model | ${lengths.map((l) => `L=${l}`).join(' | ')} |`);
    console.log(`| --- | ${lengths.map(() => '---').join(' | ')} |`);
    for (const m of models) {
      const cells = lengths.map((l) => {
        const c = cell(m, probe, l);
        return c.n ? c.mean.toFixed(2) : '—';
      });
      console.log(`| ${m} | ${cells.join(' | ')} |`);
    }
  }
  for (const l of limits) console.log(`note: ${l}`);
  if (values.json) {
    writeFileSync(values.json, JSON.stringify({ format: 'mamba-vs-transformer recall/1', doc: values.doc, lengths, depths, trials, seed, probes, limits, rows }, null, 1));
    console.error(`wrote ${values.json}`);
  }
  return 0;
}

main().then((code) => process.exit(code), (e) => { console.error(`error: ${(e as Error).message}`); process.exit(1); });
