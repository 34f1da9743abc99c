/**
 * Generate text from a local model directory (config.json, model.safetensors[.index.json], tokenizer.json) on
 * WebGPU through Dawn, streaming tokens to stdout, with the same loader and kernels as the page.
 *
 *   npm run generate -- public/models/demo-mamba "The pass key is" --max 40 --temperature 0.8 --top-k 40
 *   npm run generate -- DIR PROMPT [--max N] [--temperature T] [--top-k K] [--top-p P] [--seed S]
 *                                  [--scan fused|unfused|sequential] [--attention flash|reference]
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startHubServer } from '../../tools/hub-server.mjs';
import { GpuContext } from '../gpu/context';
import { acquireNodeDevice } from '../gpu/node';
import { HubClient, staticSource } from '../hub/hub';
import { loadModel } from '../models/load';
import { attentionVariants, DEFAULT_KERNELS, parseKernelChoice, scanVariants } from '../models/kernel-choice';
import { runGenerate } from '../engine/generate';
import { slotOf } from '../engine/run';

const USAGE = 'usage: npm run generate -- MODEL_DIR "prompt" [--max N] [--temperature T] [--top-k K] [--top-p P] [--seed S]\n' +
  `                                  [--scan ${scanVariants.join('|')}] [--attention ${attentionVariants.join('|')}]`;

/** A flag's number, or a clear error naming it. */
function num(values: Record<string, string | undefined>, flag: string, check: (v: number) => boolean, what: string): number {
  const v = Number(values[flag]);
  if (!Number.isFinite(v) || !check(v)) throw new RangeError(`--${flag} ${values[flag]}: must be ${what}`);
  return v;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      max: { type: 'string', default: '64' },
      temperature: { type: 'string', default: '0' },
      'top-k': { type: 'string', default: '0' },
      'top-p': { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      scan: { type: 'string', default: DEFAULT_KERNELS.scan },
      attention: { type: 'string', default: DEFAULT_KERNELS.attention },
    },
  });
  const [dir, prompt] = positionals;
  if (!dir || prompt === undefined) {
    console.error(USAGE);
    return 2;
  }
  let kernels, params;
  try {
    kernels = parseKernelChoice({ scan: values.scan, attention: values.attention });
    params = {
      maxNewTokens: num(values, 'max', (v) => Number.isInteger(v) && v >= 1, 'a positive integer'),
      temperature: num(values, 'temperature', (v) => v >= 0, 'a number ≥ 0'),
      topK: num(values, 'top-k', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0'),
      topP: num(values, 'top-p', (v) => v > 0 && v <= 1, 'in (0, 1]'),
      seed: num(values, 'seed', Number.isInteger, 'an integer'),
    };
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const root = resolve(dir);
  if (!existsSync(`${root}/config.json`)) {
    console.error(`${root}/config.json not found: MODEL_DIR must hold config.json, model.safetensors and tokenizer.json`);
    return 2;
  }
  const server = await startHubServer({ root });
  const ctx = new GpuContext(await acquireNodeDevice());
  try {
    const model = await loadModel(ctx, staticSource(server.url), { client: new HubClient({ cache: false }) });
    if (model.tokenizer.encode(prompt, { addSpecialTokens: false }).length === 0) {
      console.error('the prompt encodes to no tokens');
      return 2;
    }
    process.stdout.write(prompt);
    // the page's Compare loop (src/engine/generate.ts) with this one model
    const slot = slotOf(model);
    await runGenerate({ [slot]: model }, { ...params, prompt, slots: [slot], mode: 'sequential', kernels, addSpecialTokens: false }, (e) => {
      if (e.type === 'gen-tokens') process.stdout.write(e.text);
      if (e.type !== 'gen-stats') return;
      const { stats, memory: m } = e;
      process.stdout.write('\n');
      console.error(
        `\n[${model.arch}, scan ${e.kernels.scan}, attention ${e.kernels.attention}] ${stats.promptTokens} prompt tokens, ${stats.newTokens} new; ` +
        `TTFT ${stats.ttftMs.toFixed(1)} ms; prefill ${stats.prefillTokPerS.toFixed(1)} tok/s; decode ${stats.decodeTokPerS.toFixed(1)} tok/s ` +
        `(batches of ${e.trace.batch}); stop: ${stats.stopReason}; GPU memory: weights ${(m.weights / 2 ** 20).toFixed(1)} MiB, ` +
        `KV ${(m.kvCache / 2 ** 20).toFixed(2)} MiB, SSM state ${(m.ssmState / 2 ** 20).toFixed(2)} MiB`,
      );
    }, new AbortController().signal);
    model.dispose();
    return 0;
  } finally {
    ctx.destroy();
    server.close();
  }
}

main().then((code) => process.exit(code), (e) => { console.error(`error: ${(e as Error).message}`); process.exit(1); });
