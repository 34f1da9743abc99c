/**
 * The recall lab from the command line: passkey, copy-span and multikey (capacity) probes over context lengths, on
 * local model directories (hub layout), with the page's own experiment (src/engine/recall.ts) and kernels, on WebGPU
 * through Dawn. Prints a table per probe and writes every probe as JSON.
 *
 *   npm run recall -- public/models/demo-mamba public/models/demo-pythia --lengths 256,512,1024,2048 --trials 4
 *   npm run recall -- DIR [DIR ...] [--probes passkey,copy,multikey] [--lengths L,L] [--depths D,D] [--trials N]
 *                       [--keys K,K] [--key-lengths L,L] [--key-trials N] [--max-seconds S]
 *                       [--doc FILE] [--seed S] [--scan fused|unfused|sequential] [--attention flash|reference] [--json OUT.json]
 *
 * passkey / copy: one cell per (model, length), `depths × trials` probes each.
 * multikey: one cell per (model, length in --key-lengths, K in --keys), `--key-trials` probes each (default: as many
 * as a passkey cell); a cell whose K facts and question do not fit in the length is skipped and listed.
 * --max-seconds S: a model starts no new cell after S seconds of its own (load included), so a run over N models ends
 * within about N × S seconds plus one cell; what was measured is still printed and written, the cut is listed.
 * A model that runs out of memory or past its context limit at some length stops there (listed); the others go on.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startHubServer } from '../../tools/hub-server.mjs';
import { GpuContext } from '../gpu/context';
import { acquireNodeDevice } from '../gpu/node';
import { HubClient, staticSource } from '../hub/hub';
import { loadModel } from '../models/load';
import { attentionVariants, DEFAULT_KERNELS, parseKernelChoice, scanVariants } from '../models/kernel-choice';
import { MULTIKEY_WORDS } from '../recall/multikey';
import { runRecall } from '../engine/recall';
import { slotOf } from '../engine/run';

type Probe = 'passkey' | 'copy' | 'multikey';
const PROBES: Probe[] = ['passkey', 'copy', 'multikey'];

interface Row {
  model: string; arch: string; probe: Probe; length: number; depth: number; trial: number;
  /** multikey: K, the number of facts. */
  keys?: number;
  score: number; correct: boolean; expected: string; output: string; ms: number;
}
interface Skip { model: string; probe: Probe; length: number; keys?: number; reason: string }

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const nums = (s: string, what: string) => list(s).map((x) => {
  const v = Number(x);
  if (!Number.isFinite(v)) throw new Error(`--${what}: "${x}" is not a number`);
  return v;
});
const posInts = (s: string, what: string) => {
  const v = nums(s, what);
  if (!v.length || v.some((x) => !(Number.isInteger(x) && x > 0))) throw new Error(`--${what} must be positive integers, got "${s}"`);
  return v;
};

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      lengths: { type: 'string', default: '256,512,1024,2048' },
      depths: { type: 'string', default: '0,0.25,0.5,0.75,1' },
      trials: { type: 'string', default: '4' },
      probes: { type: 'string', default: 'passkey,copy' },
      keys: { type: 'string', default: '1,4,16,64,256' },
      'key-lengths': { type: 'string' },
      'key-trials': { type: 'string' },
      'max-seconds': { type: 'string' },
      doc: { type: 'string', default: 'public/docs/harbour-ledger.txt' },
      seed: { type: 'string', default: '1' },
      scan: { type: 'string', default: DEFAULT_KERNELS.scan },
      attention: { type: 'string', default: DEFAULT_KERNELS.attention },
      json: { type: 'string' },
    },
  });
  if (positionals.length === 0) {
    console.error(
      'usage: npm run recall -- MODEL_DIR [MODEL_DIR ...] [--probes passkey,copy,multikey] [--lengths 256,512] [--depths 0,0.5,1] [--trials N]\n' +
      '                          [--keys 1,4,16,64,256] [--key-lengths 1024,4096] [--key-trials N] [--max-seconds S] [--doc FILE] [--seed S] [--json OUT]\n' +
      `                          [--scan ${scanVariants.join('|')}] [--attention ${attentionVariants.join('|')}]`,
    );
    return 2;
  }
  const lengths = posInts(values.lengths, 'lengths');
  const depths = nums(values.depths, 'depths');
  const trials = Number(values.trials);
  const seed = Number(values.seed);
  const probes = list(values.probes) as Probe[];
  for (const p of probes) if (!PROBES.includes(p)) throw new Error(`--probes: unknown probe "${p}" (${PROBES.join(', ')})`);
  if (depths.some((d) => d < 0 || d > 1)) throw new Error('--depths must be in [0, 1]');
  if (!(trials >= 1 && Number.isInteger(trials))) throw new Error('--trials must be a positive integer');
  const keys = posInts(values.keys, 'keys');
  if (keys.some((k) => k > MULTIKEY_WORDS.length)) throw new Error(`--keys: at most ${MULTIKEY_WORDS.length} facts (the number of distinct key words)`);
  const keyLengths = values['key-lengths'] ? posInts(values['key-lengths'], 'key-lengths') : lengths;
  const keyTrials = values['key-trials'] ? posInts(values['key-trials'], 'key-trials')[0] : depths.length * trials;
  const maxSeconds = values['max-seconds'] ? Number(values['max-seconds']) : Infinity;
  if (!(maxSeconds > 0)) throw new Error('--max-seconds must be a positive number');
  const kernels = parseKernelChoice({ scan: values.scan, attention: values.attention });
  const doc = readFileSync(values.doc, 'utf8');
  for (const dir of positionals) {
    if (!existsSync(`${resolve(dir)}/config.json`)) throw new Error(`${dir}/config.json not found: each MODEL_DIR must hold config.json, model.safetensors and tokenizer.json`);
  }

  // a model is named by its folder, or by its path when folder names repeat (e.g. …/resolve/main)
  const short = positionals.map((d) => basename(resolve(d)));
  const names = new Set(short).size === short.length ? short : positionals.map((d) => relative(process.cwd(), resolve(d)) || d);

  const t0 = Date.now();
  const ctx = new GpuContext(await acquireNodeDevice());
  const rows: Row[] = [];
  const skipped: Skip[] = [];
  const limits: string[] = [];
  /** The probes of one cell and their mean score (passkey, multikey: accuracy; copy: fraction copied). */
  const cell = (model: string, probe: Probe, length: number, k?: number) => {
    const c = rows.filter((r) => r.model === model && r.probe === probe && r.length === length && r.keys === k);
    return { n: c.length, mean: c.reduce((a, r) => a + r.score, 0) / c.length, seconds: c.reduce((a, r) => a + r.ms, 0) / 1e3 };
  };
  const report = (name: string, probe: Probe, length: number, k?: number) => {
    const c = cell(name, probe, length, k);
    console.error(`${name} ${probe} L=${length}${k === undefined ? '' : ` K=${k}`}: ${c.mean.toFixed(3)} (${c.n} probes, ${c.seconds.toFixed(1)} s)`);
  };
  try {
    for (const [di, dir] of positionals.entries()) {
      const server = await startHubServer({ root: resolve(dir) });
      const tModel = Date.now();
      try {
        const model = await loadModel(ctx, staticSource(server.url), { client: new HubClient({ cache: false }) });
        const name = names[di];
        // each cell's line as soon as the next cell starts (a model's probes of a cell come one after another)
        let current: Row | null = null;
        const flush = () => current && report(name, current.probe, current.length, current.keys);
        const slot = slotOf(model);
        await runRecall(
          { [slot]: model },
          {
            slots: [slot], probes, document: doc, lengths, depths, trials, seed, keys, keyLengths, keyTrials, kernels,
            // the budget counts the load
            maxMs: Number.isFinite(maxSeconds) ? maxSeconds * 1e3 - (Date.now() - tModel) : undefined,
          },
          (e) => {
            if (e.type === 'recall-point') {
              const { probe, length, depth, trial, keys: k, score, correct, expected, output, ms } = e.point;
              const row: Row = { model: name, arch: model.arch, probe, length, depth, trial, ...(k === undefined ? {} : { keys: k }), score, correct, expected, output, ms };
              if (current && (current.probe !== row.probe || current.length !== row.length || current.keys !== row.keys)) flush();
              current = row;
              rows.push(row);
            } else if (e.type === 'recall-skip') {
              skipped.push({ model: name, probe: 'multikey', length: e.skip.length, keys: e.skip.keys, reason: e.skip.message });
            } else if (e.type === 'limit') {
              limits.push(e.reason === 'time'
                ? `${name}: stopped starting new cells after --max-seconds ${maxSeconds} (the cells without numbers were not run)`
                : e.reason === 'context' ? `${name}: L=${e.length} exceeds its context limit ${model.maxContext}` : `${name}: L=${e.length}: ${e.message}`);
            }
          },
          new AbortController().signal,
        );
        flush();
        console.error(`${name}: ${((Date.now() - tModel) / 1e3).toFixed(1)} s`);
        model.dispose();
      } finally {
        server.close();
      }
    }
  } finally {
    ctx.destroy();
  }

  // passkey / copy: rows = models, columns = lengths. multikey: rows = model × length, columns = K.
  const models = [...new Set(rows.map((r) => r.model))];
  for (const probe of probes) {
    if (probe === 'multikey') {
      console.log(`\nmultikey (exact-match accuracy with K facts in the document; ${keyTrials} probes per cell; — = did not fit or not run)\n`);
      console.log(`| model | L | ${keys.map((k) => `K=${k}`).join(' | ')} |`);
      console.log(`| --- | --- | ${keys.map(() => '---').join(' | ')} |`);
      for (const m of models) {
        for (const l of keyLengths) {
          const cells = keys.map((k) => {
            const c = cell(m, 'multikey', l, k);
            return c.n ? c.mean.toFixed(2) : '—';
          });
          if (cells.some((c) => c !== '—')) console.log(`| ${m} | ${l} | ${cells.join(' | ')} |`);
        }
      }
      continue;
    }
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
  for (const s of skipped) console.log(`skipped: ${s.model} ${s.probe} L=${s.length} K=${s.keys}: ${s.reason}`);
  for (const l of limits) console.log(`note: ${l}`);
  console.error(`total ${((Date.now() - t0) / 1e3).toFixed(1)} s`);
  if (values.json) {
    writeFileSync(
      values.json,
      JSON.stringify({
        format: 'mamba-vs-transformer recall/2', doc: values.doc, lengths, depths, trials, seed, probes, kernels,
        keys, keyLengths, keyTrials, limits, skipped, seconds: (Date.now() - t0) / 1e3, rows,
      }, null, 1),
    );
    console.error(`wrote ${values.json}`);
  }
  return 0;
}

main().then((code) => process.exit(code), (e) => { console.error(`error: ${(e as Error).message}`); process.exit(1); });
