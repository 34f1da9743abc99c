import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/hub/config';
import { fileUrl } from '../../src/hub/hub';
import {
  HUB_MAMBA2_MODELS, HUB_MODELS, HUB_PAIRS, allPairs, countParams, demoPair, estimateGpuMemory, formatBytes, modelPair, pairEntry, registryEntry,
} from '../../src/hub/registry';
import { expectedTensors } from '../../src/hub/weights';

const load = (name: string) => parseConfig(JSON.parse(readFileSync(new URL(`./configs/${name}.json`, import.meta.url), 'utf8')));

describe('registry', () => {
  it('lists the hub pairs with repos and known parameter counts', () => {
    expect(HUB_PAIRS.map((p) => p.entries.map((e) => e.repo))).toEqual([
      ['state-spaces/mamba-130m-hf', 'EleutherAI/pythia-160m'],
      ['state-spaces/mamba-370m-hf', 'EleutherAI/pythia-410m'],
      ['state-spaces/mamba-790m-hf', 'EleutherAI/pythia-1b'],
      ['state-spaces/mamba-1.4b-hf', 'EleutherAI/pythia-1.4b'],
      ['state-spaces/mamba-130m', 'EleutherAI/pythia-160m'],
      ['state-spaces/mamba-370m', 'EleutherAI/pythia-410m'],
      ['state-spaces/mamba-790m', 'EleutherAI/pythia-1b'],
      ['state-spaces/mamba-1.4b', 'EleutherAI/pythia-1.4b'],
      ['state-spaces/mamba-2.8b', 'EleutherAI/pythia-2.8b'],
      ['state-spaces/mamba-130m-hf', 'AntonV/mamba2-130m-hf', 'EleutherAI/pythia-160m'],
      ['state-spaces/mamba-370m-hf', 'AntonV/mamba2-370m-hf', 'EleutherAI/pythia-410m'],
      ['state-spaces/mamba-790m-hf', 'AntonV/mamba2-780m-hf', 'EleutherAI/pythia-1b'],
      ['state-spaces/mamba-1.4b-hf', 'AntonV/mamba2-1.3b-hf', 'EleutherAI/pythia-1.4b'],
      ['state-spaces/mamba-2.8b', 'AntonV/mamba2-2.7b-hf', 'EleutherAI/pythia-2.8b'],
    ]);
    // the authors' repos: same architecture as the -hf conversions, PyTorch .bin, GPT-NeoX-20B's tokenizer
    expect(registryEntry('mamba-130m-ssm').params).toBe(registryEntry('mamba-130m').params);
    expect(registryEntry('state-spaces/mamba-130m')).toMatchObject({ format: 'pytorch', tokenizerRepo: 'EleutherAI/gpt-neox-20b' });
    expect(registryEntry('mamba-130m')).toMatchObject({ format: 'safetensors' });
    expect(registryEntry('mamba-130m').tokenizerRepo).toBeUndefined();
    expect(registryEntry('pythia-2.8b').params).toBe(2_775_208_960); // the Pythia paper's count
    expect(registryEntry('mamba-130m').params).toBe(129_135_360);
    expect(registryEntry('pythia-160m').params).toBe(162_322_944);
    expect(registryEntry('EleutherAI/pythia-410m').params).toBe(405_334_016);
    expect(registryEntry('pythia-1b').params).toBe(1_011_781_632);
    expect(registryEntry('pythia-1.4b').params).toBe(1_414_647_808);
    // ~517 MB f32 for mamba-130m-hf; ~375 MB for pythia-160m (f16 + bool attention masks)
    expect(registryEntry('mamba-130m').approxDownloadBytes! / 1e6).toBeCloseTo(519, -1);
    expect(registryEntry('pythia-160m').approxDownloadBytes! / 1e6).toBeCloseTo(377, -1);
    expect(HUB_MODELS.every((m) => m.approximate && m.source.kind === 'hub')).toBe(true);
    expect(() => registryEntry('llama-7b')).toThrow(/unknown model "llama-7b"/);
  });

  it('parameter counts from configs agree with the expected tensor shapes', () => {
    for (const name of ['state-spaces__mamba-130m-hf', 'state-spaces__mamba-370m-hf', 'EleutherAI__pythia-160m', 'EleutherAI__pythia-410m']) {
      const c = load(name);
      let n = 0;
      for (const [, s] of expectedTensors(c)) if (!s.optional) n += s.shape.reduce((a, b) => a * b, 1);
      expect(countParams(c), name).toBe(n);
    }
    expect(countParams(load('state-spaces__mamba-370m-hf'))).toBe(registryEntry('mamba-370m').params);
  });

  it('three-way sets put Mamba-2 at the Mamba size beside the pair: every Mamba-2 entry is in one, within 15% of its Mamba', () => {
    const sets = HUB_PAIRS.filter((p) => p.entries.length === 3);
    expect(sets.map((p) => pairEntry(p, 'mamba2')!.id).sort()).toEqual(HUB_MAMBA2_MODELS.map((m) => m.id).sort());
    for (const p of sets) {
      expect(p.entries.map((e) => e.arch)).toEqual(['mamba', 'mamba2', 'gpt-neox']);
      const ratio = pairEntry(p, 'mamba2')!.params / pairEntry(p, 'mamba')!.params;
      expect(ratio, p.id).toBeGreaterThan(0.85);
      expect(ratio, p.id).toBeLessThan(1.15);
    }
  });

  it('a pair or set takes two or three models of different architectures, in the page order', () => {
    const [m, m2, t] = ['mamba-130m', 'mamba2-130m', 'pythia-160m'].map(registryEntry);
    expect(modelPair('x', 'x', [t, m2]).entries.map((e) => e.arch)).toEqual(['mamba2', 'gpt-neox']);
    expect(modelPair('x', 'x', [t, m, m2]).entries.map((e) => e.arch)).toEqual(['mamba', 'mamba2', 'gpt-neox']);
    expect(() => modelPair('x', 'x', [m])).toThrow(/two or three models/);
    expect(() => modelPair('x', 'x', [m, registryEntry('mamba-370m')])).toThrow(/different architectures, not mamba, mamba/);
  });

  it('builds the static demo pair under the app origin', () => {
    const p = demoPair('https://app.example/base/');
    expect(fileUrl(pairEntry(p, 'mamba')!.source, 'config.json')).toBe('https://app.example/base/models/demo-mamba/config.json');
    expect(fileUrl(pairEntry(p, 'gpt-neox')!.source, 'model.safetensors')).toBe('https://app.example/base/models/demo-pythia/model.safetensors');
    expect(p.entries).toHaveLength(2);
    expect(allPairs('http://localhost:5173')[0].id).toBe('demo');
  });

  it('estimates GPU memory: weights, SSM state, KV cache per token', () => {
    const m = estimateGpuMemory(load('state-spaces__mamba-130m-hf'));
    expect(m.kvBytesPerToken).toBe(0);
    expect(m.stateBytes).toBe(24 * (1536 * 16 + 1536 * 3) * 4);
    expect(m.weightsBytes).toBe(129_135_360 * 4);
    expect(m.largestBufferBytes).toBe(50280 * 768 * 4);
    const m16 = estimateGpuMemory(load('state-spaces__mamba-130m-hf'), { weightDtype: 'f16' });
    expect(m16.weightsBytes).toBeLessThan(m.weightsBytes * 0.52);
    const p = estimateGpuMemory(load('EleutherAI__pythia-160m'), { weightDtype: 'f16', contextTokens: 1000 });
    expect(p.kvBytesPerToken).toBe(2 * 12 * 768 * 4);
    expect(p.stateBytes).toBe(0);
    expect(p.totalBytes).toBe(p.weightsBytes + p.kvBytesPerToken * 1000 + p.activationBytes);
    expect(formatBytes(517_000_000)).toBe('517 MB');
    expect(formatBytes(null)).toBe('?');
  });
});
