#!/usr/bin/env node
// Writes public/models/demo-results.json: what the built-in demo pair can do, for the page's model picker and the
// README. Held-out loss comes from each model's train_log.json (tools/train_demo.py); recall from the project's own
// recall lab run on the GPU machine (npm run recall ... --json docs/benchmarks/recall-demo.json).
//   node tools/demo-card.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const log = (a) => JSON.parse(readFileSync(`public/models/demo-${a}/train_log.json`, 'utf8'));
const recall = JSON.parse(readFileSync('docs/benchmarks/recall-demo.json', 'utf8'));
const m = log('mamba');
const p = log('pythia');
const cell = (model, probe, L) => {
  const rows = recall.rows.filter((r) => r.model === model && r.probe === probe && r.length === L);
  return rows.length ? Number((rows.reduce((s, r) => s + r.score, 0) / rows.length).toFixed(3)) : null;
};
const arch = (name, l) => ({
  params: l.params,
  heldoutLoss: { 512: l.eval.heldout_loss_512, 2048: l.eval.heldout_loss_2048 },
  passkey: recall.lengths.map((L) => cell(name, 'passkey', L)),
  copy: recall.lengths.map((L) => cell(name, 'copy', L)),
});
const out = {
  format: 'mamba-vs-transformer demo results/1',
  trainLength: m.settings.seq,
  steps: m.settings.steps,
  trainTokens: m.settings.train_tokens,
  synthFrac: m.settings.synth_frac,
  device: m.settings.device,
  lengths: recall.lengths,
  depths: recall.depths,
  probesPerCell: recall.depths.length * recall.trials,
  doc: recall.doc.split('/').pop(),
  mamba: arch('demo-mamba', m),
  transformer: arch('demo-pythia', p),
  source: 'held-out loss: train_log.json (tools/train_demo.py); recall: npm run recall on the GPU machine (docs/benchmarks/recall-demo.json)',
};
writeFileSync('public/models/demo-results.json', JSON.stringify(out, null, 1) + '\n');
console.log(JSON.stringify(out));
