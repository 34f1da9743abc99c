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
import type { AttentionVariant, ScanVariant } from '../models/types';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      max: { type: 'string', default: '64' },
      temperature: { type: 'string', default: '0' },
      'top-k': { type: 'string', default: '0' },
      'top-p': { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      scan: { type: 'string', default: 'fused' },
      attention: { type: 'string', default: 'flash' },
    },
  });
  const [dir, prompt] = positionals;
  if (!dir || prompt === undefined) {
    console.error('usage: npm run generate -- MODEL_DIR "prompt" [--max N] [--temperature T] [--top-k K] [--top-p P]');
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
    model.kernels = { scan: values.scan as ScanVariant, attention: values.attention as AttentionVariant };
    const ids = model.tokenizer.encode(prompt, { addSpecialTokens: false });
    if (ids.length === 0) {
      console.error('the prompt encodes to no tokens');
      return 2;
    }
    const dec = model.tokenizer.streamDecoder();
    dec.prime(ids);
    process.stdout.write(prompt);
    const eos = model.tokenizer.eosId;
    const { stats } = await model.generate(ids, {
      maxNewTokens: Number(values.max), temperature: Number(values.temperature), topK: Number(values['top-k']),
      topP: Number(values['top-p']), seed: Number(values.seed), stopIds: eos === null || eos === undefined ? [] : [eos],
    }, (e) => process.stdout.write(dec.push(e.id)));
    process.stdout.write(dec.flush() + '\n');
    const m = model.memory();
    console.error(
      `\n[${model.arch}] ${stats.promptTokens} prompt tokens, ${stats.newTokens} new; TTFT ${stats.ttftMs.toFixed(1)} ms; ` +
      `prefill ${stats.prefillTokPerS.toFixed(1)} tok/s; decode ${stats.decodeTokPerS.toFixed(1)} tok/s; stop: ${stats.stopReason}; ` +
      `GPU memory: weights ${(m.weights / 2 ** 20).toFixed(1)} MiB, KV ${(m.kvCache / 2 ** 20).toFixed(2)} MiB, SSM state ${(m.ssmState / 2 ** 20).toFixed(2)} MiB`,
    );
    model.dispose();
    return 0;
  } finally {
    ctx.destroy();
    server.close();
  }
}

main().then((code) => process.exit(code), (e) => { console.error(`error: ${(e as Error).message}`); process.exit(1); });
