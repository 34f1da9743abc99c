#!/usr/bin/env node
// Writes public/models/demo-results.json: what the built-in demo pair can do, for the page's model picker and the
// README. Held-out loss comes from each model's train_log.json (tools/train_demo.py); recall from the project's own
// recall lab run on the GPU machine (npm run recall ... --json docs/benchmarks/recall-demo.json): passkey and copy by
// length, and, when the run has multikey probes, the capacity sweep (accuracy by length and number of facts K) under
// the key `multikey`.
//   node tools/demo-card.mjs [RECALL_JSON]
import { readFileSync, writeFileSync } from 'node:fs';

const recallPath = process.argv[2] ?? 'docs/benchmarks/recall-demo.json';
const log = (a) => JSON.parse(readFileSync(`public/models/demo-${a}/train_log.json`, 'utf8'));
const recall = JSON.parse(readFileSync(recallPath, 'utf8'));
const m = log('mamba');
const p = log('pythia');
const MODELS = { mamba: 'demo-mamba', transformer: 'demo-pythia' };
for (const name of Object.values(MODELS)) {
  if (!recall.rows.some((r) => r.model === name)) throw new Error(`${recallPath} has no probes of ${name} (models: ${[...new Set(recall.rows.map((r) => r.model))].join(', ')})`);
}
const mean = (rows) => (rows.length ? Number((rows.reduce((s, r) => s + r.score, 0) / rows.length).toFixed(3)) : null);
const cell = (model, probe, L, K) => mean(recall.rows.filter((r) => r.model === model && r.probe === probe && r.length === L && (K === undefined || r.keys === K)));
const arch = (name, l) => ({
  params: l.params,
  heldoutLoss: { 512: l.eval.heldout_loss_512, 2048: l.eval.heldout_loss_2048 },
  passkey: recall.lengths.map((L) => cell(name, 'passkey', L)),
  copy: recall.lengths.map((L) => cell(name, 'copy', L)),
});

/**
 * The capacity sweep: accuracy[length][K] per model (null: not measured, e.g. the K facts do not fit in L), and the
 * headline length: among the lengths seen in training (all lengths if none), the one with the most K values measured
 * for both models (ties: the longest).
 */
function multikey(trainLength) {
  const mk = recall.rows.filter((r) => r.probe === 'multikey');
  if (!mk.length) return undefined;
  const keys = [...new Set(mk.map((r) => r.keys))].sort((a, b) => a - b);
  const lengths = [...new Set(mk.map((r) => r.length))].sort((a, b) => a - b);
  const grid = (name) => lengths.map((L) => keys.map((K) => cell(name, 'multikey', L, K)));
  const both = (L) => keys.filter((K) => Object.values(MODELS).every((n) => cell(n, 'multikey', L, K) !== null)).length;
  const pool = lengths.some((L) => L <= trainLength) ? lengths.filter((L) => L <= trainLength) : lengths;
  const length = pool.reduce((best, L) => (both(L) >= both(best) ? L : best), pool[0]);
  return {
    keys,
    lengths,
    length,
    probesPerCell: recall.keyTrials,
    mamba: grid(MODELS.mamba),
    transformer: grid(MODELS.transformer),
    skipped: (recall.skipped ?? []).filter((s) => s.model === MODELS.mamba).map((s) => ({ length: s.length, keys: s.keys })),
  };
}

const out = {
  format: 'mamba-vs-transformer demo results/1',
  trainLength: m.settings.seq,
  trainLengths: m.settings.seq_lengths ?? [m.settings.seq],
  steps: m.settings.steps,
  trainTokens: m.settings.train_tokens,
  synthFrac: m.settings.synth_frac,
  // the skill stage (v6): the run's first steps were short synthetic recall rows only (tools/skill_gate.py)
  ...(m.skill_stage?.end ? { skillStage: { steps: m.skill_stage.end, lengths: m.skill_stage.settings.lengths } } : {}),
  device: m.settings.device,
  lengths: recall.lengths,
  depths: recall.depths,
  probesPerCell: recall.depths.length * recall.trials,
  doc: recall.doc.split('/').pop(),
  mamba: arch(MODELS.mamba, m),
  transformer: arch(MODELS.transformer, p),
  multikey: multikey(m.settings.seq),
  source: 'held-out loss: train_log.json (tools/train_demo.py); recall: npm run recall on the GPU machine (docs/benchmarks/recall-demo.json)',
};
writeFileSync('public/models/demo-results.json', JSON.stringify(out, null, 1) + '\n');
console.log(JSON.stringify(out));
