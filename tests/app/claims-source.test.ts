/**
 * The Claims tab reads what was measured elsewhere: the newest finished run of the loaded pair that covers a claim
 * (its verdict has enough data), from the Scaling tab, the Recall lab or the Claims tab; never a cancelled or failed
 * run, nor one of another pair, nor the half of a claims run it carried over. Also the page's words for load
 * failures and the one-unit chart axes.
 */
import { describe, expect, it } from 'vitest';
import { pickRun, recallRuns, sweepRuns } from '../../src/app/claims-source';
import { explainLoadError } from '../../src/app/load-errors';
import { axisUnit } from '../../src/app/format';
import { verdictMemory, verdictPrefillScaling, verdictRecall } from '../../src/recall/analysis';
import type { RunRecord } from '../../src/store/store';
import type { Arch } from '../../src/models/types';
import type { RecallPoint, SweepPoint } from '../../src/recall/types';

const K = { scan: 'fused', attention: 'flash' } as const;
const mem = { weights: 100, kvCache: 0, ssmState: 0, activations: 0, scratch: 0 };
const sp = (arch: Arch, length: number): SweepPoint => ({
  arch, length, prefillMs: length / 10, prefillTokPerS: 1e4, decodeMsPerToken: 1, decodeTokPerS: 1000, memory: mem,
  stateBytes: arch === 'mamba' ? 500 : length * 1000, totalBytes: 0, prefillPass: length, kernels: K,
});
const sweep = (lengths: number[]) => lengths.flatMap((l) => [sp('mamba', l), sp('transformer', l)]);
const rp = (arch: Arch, score: number): RecallPoint => ({ arch, probe: 'passkey', length: 128, depth: 1, trial: 0, score, correct: score === 1, expected: '1', output: '1', ms: 1, kernels: K });

const PAIR: Partial<Record<Arch, string>> = { mamba: 'demo-mamba', transformer: 'demo-pythia' };
const info = (source: string) => ({ source }) as RunRecord['models']['mamba'];
let n = 0;
function run(kind: RunRecord['kind'], data: unknown, o: { pair?: Partial<Record<Arch, string>>; cancelled?: boolean; error?: string } = {}): RunRecord {
  const p = o.pair ?? PAIR;
  n++;
  return {
    id: `${kind}-${n}`, kind, startedAt: `2024-01-01T00:00:0${n}Z`, finishedAt: `2024-01-01T00:01:0${n}Z`, cancelled: o.cancelled ?? false, error: o.error ?? null,
    settings: { scan: 'fused', attn: 'flash' }, models: Object.fromEntries(Object.entries(p).map(([a, src]) => [a, info(src)])), data,
  };
}

describe('claims read the measurements already taken', () => {
  it('takes the newest finished sweep of the loaded pair that covers the claim', () => {
    const runs = [
      run('sweep', { points: sweep([64, 128, 256]) }), // covers both claims
      run('sweep', { points: sweep([64, 128]) }), // 2 lengths: memory yes, prefill scaling (3 lengths) no
      run('sweep', { points: sweep([64, 128, 256, 512]) }, { cancelled: true }),
      run('sweep', { points: sweep([64, 128, 256, 512]) }, { pair: { mamba: 'other', transformer: 'demo-pythia' } }),
      run('sweep', { points: sweep([64, 128, 256, 512]) }, { error: 'out of memory' }),
    ];
    const sw = sweepRuns(runs, PAIR);
    expect(sw.map((r) => r.id)).toEqual([runs[1].id, runs[0].id]);
    expect(pickRun(sw, verdictMemory)!.run.id).toBe(runs[1].id);
    expect(pickRun(sw, verdictMemory)!.verdict.status).toBe('supported');
    expect(pickRun(sw, verdictPrefillScaling)!.run.id).toBe(runs[0].id);
    expect(pickRun(sweepRuns(runs.slice(1, 2), PAIR), verdictPrefillScaling)).toBeNull();
    expect(sw[0].from).toBe('scaling');
  });

  it('a claims run counts only for the half it measured', () => {
    const runs = [
      run('recall', { points: [rp('mamba', 0), rp('transformer', 1)] }),
      run('claims', { which: 'scaling', sweep: sweep([64, 128]), recall: [rp('mamba', 1), rp('transformer', 1)] }),
    ];
    const rc = recallRuns(runs, PAIR);
    expect(rc.map((r) => r.from)).toEqual(['recall']); // the claims run carried its recall points over
    expect(pickRun(rc, verdictRecall)!.verdict.status).toBe('supported');
    expect(sweepRuns(runs, PAIR).map((r) => r.from)).toEqual(['claims']);
    expect(pickRun(recallRuns([], PAIR), verdictRecall)).toBeNull();
  });

  it('three models loaded: only runs made with the same three count, not the pair\'s before', () => {
    const THREE = { ...PAIR, mamba2: 'tiny-random/mamba2' };
    const sp2 = (l: number): SweepPoint => ({ ...sp('mamba', l), arch: 'mamba2' });
    const runs = [
      run('sweep', { points: sweep([64, 128, 256]) }), // the pair, before Mamba-2 was loaded
      run('sweep', { points: [...sweep([64, 128]), sp2(64), sp2(128)] }, { pair: THREE }),
    ];
    expect(sweepRuns(runs, THREE).map((r) => r.id)).toEqual([runs[1].id]);
    expect(sweepRuns(runs, PAIR).map((r) => r.id)).toEqual([runs[0].id]);
    const v = pickRun(sweepRuns(runs, THREE), verdictMemory)!.verdict;
    expect(v.status).toBe('supported');
    expect(v.summary.split('\n')).toHaveLength(2); // Mamba and Mamba-2, each against the Transformer
  });
});

describe('load failures in words for users', () => {
  const c = { what: 'someone/model', hub: 'https://huggingface.co', online: true };
  it('says what happened and what to do', () => {
    expect(explainLoadError({ code: 'network', message: 'Failed to fetch' }, { ...c, online: false }).kind).toBe('offline');
    const cors = explainLoadError({ code: 'network', message: 'Failed to fetch' }, c);
    expect(cors.kind).toBe('unreachable');
    expect(cors.advice).toContain('CORS');
    const broke = explainLoadError({ code: 'network', message: 'network error fetching model.safetensors from a/b (https://x/a/b/resolve/main/model.safetensors): Failed to fetch' }, c);
    expect(broke.kind).toBe('interrupted');
    expect(explainLoadError({ code: 'not-found', status: 404, message: 'x' }, c).title).toBe('someone/model was not found on huggingface.co.');
    expect(explainLoadError({ code: 'http', status: 401, message: 'HTTP 401' }, c).kind).toBe('gated');
    expect(explainLoadError({ code: 'http', message: 'HTTP 403 Forbidden fetching config.json' }, c).kind).toBe('gated');
    expect(explainLoadError({ code: 'http', status: 503, message: 'x' }, c).kind).toBe('server');
    expect(explainLoadError({ name: 'ConfigError', message: 'model_type "llama"' }, c).kind).toBe('unsupported');
    expect(explainLoadError({ code: 'not-found', message: 'no weights in x: none of model.safetensors, … exists' }, c).kind).toBe('no-weights');
    expect(explainLoadError({ code: 'out-of-memory', message: 'x' }, c).kind).toBe('memory');
    const unsafe = explainLoadError({ code: 'internal', message: 'pytorch_model.bin of a/b: data.pkl: refusing to load: the pickle names the global os.system' }, c);
    expect([unsafe.kind, unsafe.detail]).toEqual(['unsafe', 'pytorch_model.bin of a/b: data.pkl: refusing to load: the pickle names the global os.system']);
    expect(explainLoadError({ code: 'internal', message: 'pytorch_model.bin of a/b: truncated: the file ends after 10 bytes' }, c).kind).toBe('damaged');
    expect(explainLoadError({ code: 'internal', message: 'something else' }, c).kind).toBe('other');
  });
});

describe('chart axes: one unit per axis', () => {
  it('picks the unit from the data and labels every tick in it', () => {
    const t = axisUnit('time', [0.5, 3, 180_000]);
    expect(t.unit).toBe('s');
    expect([0, 60_000, 180_000].map(t.tick)).toEqual(['0', '60', '180']);
    expect(axisUnit('time', [40, 6000]).unit).toBe('ms');
    expect(axisUnit('time', [0.02, 0.4]).unit).toBe('µs');
    expect(axisUnit('time', [1, 60_000], true).unit).toBe('ms'); // log axis: the geometric middle (~245 ms)
    const b = axisUnit('bytes', [6.29e6, 12.6e6, 25.2e6]);
    expect(b.unit).toBe('MB');
    expect(b.tick(25.2e6)).toBe('25');
    expect(axisUnit('bytes', [2e9]).unit).toBe('GB');
  });
});
