/**
 * The page's slots, one per architecture (Mamba, Mamba-2, the Transformer): the architecture choice (two, three, or
 * any two of three) and what it runs, custom pairs of two or three repo ids, and loadPair's staged switch between a
 * pair and a three-way set, driven through the real controller and store against a worker stand-in that speaks the
 * typed protocol (src/worker/protocol.ts) and keeps the set of models it holds.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HUB_PAIRS } from '../../src/hub/registry';
import { ARCHS, type Arch } from '../../src/models/types';
import { activeSlots, getState, patchSettings, setState, usedSlots, type AppState } from '../../src/store/store';
import { ARCH_CHOICES, choiceArchs, DEFAULT_SETTINGS, parseSettings, serializeSettings } from '../../src/store/url';
import type { WorkerEvent, WorkerRequest } from '../../src/worker/protocol';

// The page's globals, before the controller loads.
vi.stubGlobal('navigator', { gpu: {}, onLine: true });
vi.stubGlobal('location', { href: 'http://localhost:5173/' });
const controller = await import('../../src/app/controller');
const { customPairProblem, entrySlot, findPair, listWords, loadPair, pairSlots } = controller;

const ready = (...archs: Arch[]): AppState['slots'] =>
  Object.fromEntries(ARCHS.map((a) => [a, archs.includes(a) ? { status: 'ready' } : { status: 'empty' }])) as AppState['slots'];

describe('the architecture choice', () => {
  it('names two, three, one, or two of three architectures; a link carries any of them and nothing else', () => {
    expect(ARCH_CHOICES).toEqual(['both', 'mamba', 'mamba2', 'transformer', 'mamba+mamba2', 'mamba+transformer', 'mamba2+transformer']);
    expect(choiceArchs('both')).toEqual(['mamba', 'mamba2', 'transformer']);
    expect(choiceArchs('mamba2+transformer')).toEqual(['mamba2', 'transformer']);
    expect(choiceArchs('mamba2')).toEqual(['mamba2']);
    const s = { ...DEFAULT_SETTINGS, arch: 'mamba+mamba2' as const, pair: '130m-3way', mamba2Repo: 'me/m2' };
    expect(parseSettings(`?${serializeSettings(s)}`)).toEqual(s);
    expect(parseSettings('?arch=transformer+mamba').arch).toBe('both');
    expect(parseSettings('?arch=mamba3').arch).toBe('both');
  });

  it('runs the chosen models among those loaded, in slot order', () => {
    const s = (arch: AppState['settings']['arch'], slots: AppState['slots']) => ({ ...getState(), settings: { ...getState().settings, arch }, slots });
    expect(activeSlots(s('both', ready('mamba', 'transformer')))).toEqual(['mamba', 'transformer']);
    expect(activeSlots(s('both', ready('transformer', 'mamba2', 'mamba')))).toEqual(['mamba', 'mamba2', 'transformer']);
    expect(activeSlots(s('mamba2+transformer', ready('mamba', 'mamba2', 'transformer')))).toEqual(['mamba2', 'transformer']);
    expect(activeSlots(s('mamba+mamba2', ready('mamba', 'transformer')))).toEqual(['mamba']);
    expect(activeSlots(s('mamba2', ready('mamba', 'transformer')))).toEqual([]);
    const slots = { ...ready('mamba'), mamba2: { status: 'error' as const, error: 'x' }, transformer: { status: 'empty' as const, error: 'Loading cancelled' } };
    expect(usedSlots({ slots })).toEqual(['mamba', 'mamba2', 'transformer']);
    expect(usedSlots({ slots: ready() })).toEqual([]);
  });
});

describe('pairs and three-way sets', () => {
  it('puts each model in the slot of its architecture', () => {
    const set = HUB_PAIRS.find((p) => p.id === '130m-3way')!;
    expect(pairSlots(set).map(([slot, e]) => [slot, e.repo])).toEqual([
      ['mamba', 'state-spaces/mamba-130m-hf'], ['mamba2', 'AntonV/mamba2-130m-hf'], ['transformer', 'EleutherAI/pythia-160m'],
    ]);
    expect(entrySlot(set.entries[2])).toBe('transformer');
    expect(findPair('130m-3way')).toBe(set);
    expect(pairSlots(findPair('demo')!).map(([slot]) => slot)).toEqual(['mamba', 'transformer']);
    expect(listWords(['a', 'b', 'c'])).toBe('a, b and c');
    expect(listWords(['a', 'b'])).toBe('a and b');
  });

  it('a custom pair takes two or three repo ids, its id unchanged for two', () => {
    const s = { ...DEFAULT_SETTINGS, mambaRepo: 'a/m', transformerRepo: 'b/t' };
    const two = findPair('custom', s)!;
    expect([two.id, two.label]).toEqual(['custom:a/m|b/t', 'a/m vs b/t']);
    expect(findPair('custom:a/m|b/t', s)).toEqual(two);
    const trio = findPair('custom', { ...s, mamba2Repo: 'c/m2' })!;
    expect([trio.id, trio.label]).toEqual(['custom:a/m|b/t|c/m2', 'a/m · c/m2 · b/t']);
    expect(pairSlots(trio).map(([slot, e]) => [slot, e.arch, e.repo])).toEqual([['mamba', 'mamba', 'a/m'], ['mamba2', 'mamba2', 'c/m2'], ['transformer', 'gpt-neox', 'b/t']]);
    // Mamba-2 against the Transformer, no Mamba
    const noMamba = findPair('custom', { ...s, mambaRepo: '', mamba2Repo: 'c/m2' })!;
    expect(noMamba.id).toBe('custom:|b/t|c/m2');
    expect(findPair(noMamba.id, DEFAULT_SETTINGS)!.entries.map((e) => e.repo)).toEqual(['c/m2', 'b/t']);
    // a known repo keeps its registry entry (sizes for the picker)
    expect(findPair('custom:|EleutherAI/pythia-160m|AntonV/mamba2-130m-hf', DEFAULT_SETTINGS)!.entries[0].params).toBeGreaterThan(1e8);
    // fewer than two, or an id that is not owner/name: no pair, and the problem in words
    expect(findPair('custom', { ...s, transformerRepo: '' })).toBeNull();
    expect(findPair('custom:a/m|b/t|c/m2|d/x', s)).toBeNull();
    expect(customPairProblem({ ...s, transformerRepo: '' })).toMatch(/repo id .* any two of Mamba, Mamba-2 and Transformer/);
    expect(customPairProblem({ ...s, mamba2Repo: 'nope' })).toBe('The Mamba-2 id “nope” is not a hub repo id: it should look like owner/name (e.g. AntonV/mamba2-130m-hf).');
    expect(customPairProblem({ ...s, mamba2Repo: 'c/m2' })).toBeNull();
  });
});

/** A stand-in for the GPU worker: answers the protocol, holds models by slot (live and staged), fails loads asked to. */
class FakeWorker {
  static last: FakeWorker | null = null;
  onmessage: ((ev: { data: WorkerEvent }) => void) | null = null;
  onerror: ((ev: { message: string }) => void) | null = null;
  readonly live = new Map<Arch, string>();
  readonly staged = new Map<Arch, string>();
  readonly loads: string[] = [];
  /** Repos whose load fails (with this error code). */
  fail = new Map<string, string>();
  constructor() {
    FakeWorker.last = this;
  }
  private post(e: WorkerEvent): void {
    setTimeout(() => this.onmessage?.({ data: e }), 0);
  }
  postMessage(req: WorkerRequest): void {
    const { id } = req;
    const done = () => this.post({ id, type: 'done', cancelled: false });
    switch (req.type) {
      case 'init':
        return this.post({ id, type: 'ready', info: { vendor: 'fake', architecture: '', description: '', features: [], limits: {} } });
      case 'selftest':
        return this.post({ id, type: 'selftest-result', n: req.n, maxAbsError: 0, sample: [] });
      case 'calibrate':
        return; // never answers: the page shows speeds without floors
      case 'memory-cap':
        return done();
      case 'memory':
        return this.post({ id, type: 'memory-report', report: { models: Object.fromEntries([...this.live.keys()].map((a) => [a, { weights: 1, kvCache: 0, ssmState: 0, activations: 0, scratch: 0 }])), pool: {} } });
      case 'load': {
        const repo = (req.source.kind === 'hub' ? req.source.repo : req.source.label) ?? '';
        this.loads.push(`${req.slot}:${repo}${req.stage ? ' (staged)' : ''}`);
        const arch: Arch = /mamba2/.test(repo) ? 'mamba2' : /pythia|neox/.test(repo) ? 'transformer' : 'mamba';
        const code = this.fail.get(repo);
        if (code) return this.post({ id, type: 'error', code, message: `${repo}: failed (${code})` });
        if (arch !== req.slot) return this.post({ id, type: 'error', code: 'validation', message: `${repo} is not a ${req.slot} model` });
        (req.stage ? this.staged : this.live).set(req.slot, repo);
        const info = {
          arch, name: repo, source: repo, vocabSize: 512, maxContext: 4096, memory: { weights: 1, kvCache: 0, ssmState: 0, activations: 0, scratch: 0 },
          trainedContext: null, eosId: null, loadMs: 1, fromCache: false,
        };
        return this.post({ id, type: 'loaded', info });
      }
      case 'commit':
      case 'discard':
        for (const slot of req.slots) {
          const s = this.staged.get(slot);
          this.staged.delete(slot);
          if (s && req.type === 'commit') this.live.set(slot, s);
        }
        return done();
      case 'unload':
        this.live.delete(req.slot);
        return done();
      default:
        return done();
    }
  }
  terminate(): void {}
}

describe('loadPair: a pair, a three-way set, and back', () => {
  beforeAll(async () => {
    vi.stubGlobal('Worker', FakeWorker);
    patchSettings({ autoload: 0, pair: '130m', hub: 'http://hub.invalid' });
    await controller.boot();
    expect(getState().gpu.kind).toBe('ready');
  });
  afterAll(() => controller.shutdown());
  const w = () => FakeWorker.last!;
  const held = () => Object.fromEntries(w().live);
  const statuses = () => ARCHS.map((a) => getState().slots[a].status);

  it('loads a pair into the Mamba and Transformer slots; the Mamba-2 slot stays empty', async () => {
    expect(await loadPair('130m')).toBe(true);
    expect(held()).toEqual({ mamba: 'state-spaces/mamba-130m-hf', transformer: 'EleutherAI/pythia-160m' });
    expect(statuses()).toEqual(['ready', 'empty', 'ready']);
    expect(Object.keys(getState().memory!.models).sort()).toEqual(['mamba', 'transformer']);
  });

  it('a three-way set loads beside the pair and replaces it once all three are in', async () => {
    w().loads.length = 0;
    expect(await loadPair('130m-3way')).toBe(true);
    expect(w().loads).toEqual(['mamba:state-spaces/mamba-130m-hf (staged)', 'mamba2:AntonV/mamba2-130m-hf (staged)', 'transformer:EleutherAI/pythia-160m (staged)']);
    expect(held()).toEqual({ mamba: 'state-spaces/mamba-130m-hf', mamba2: 'AntonV/mamba2-130m-hf', transformer: 'EleutherAI/pythia-160m' });
    expect(statuses()).toEqual(['ready', 'ready', 'ready']);
    expect(getState().slots.mamba2.info).toMatchObject({ name: 'AntonV/mamba2-130m-hf', trainedContext: 2048 });
    expect(activeSlots(getState())).toEqual(['mamba', 'mamba2', 'transformer']);
    setState((s) => ({ settings: { ...s.settings, arch: 'mamba2+transformer' } }));
    expect(activeSlots(getState())).toEqual(['mamba2', 'transformer']);
  });

  it('a failed switch leaves all three loaded; a pair after the set frees the Mamba-2 slot and resets a choice it cannot run', async () => {
    w().fail.set('EleutherAI/pythia-410m', 'network');
    expect(await loadPair('370m-3way')).toBe(false);
    expect(held()).toEqual({ mamba: 'state-spaces/mamba-130m-hf', mamba2: 'AntonV/mamba2-130m-hf', transformer: 'EleutherAI/pythia-160m' });
    expect(w().staged.size).toBe(0); // the staged Mamba and Mamba-2 were discarded
    expect(statuses()).toEqual(['ready', 'ready', 'ready']);
    expect(getState().pairNotice?.advice).toContain('Mamba 130M · Mamba-2 130M · Pythia 160M is still loaded');

    expect(await loadPair('130m')).toBe(true);
    expect(held()).toEqual({ mamba: 'state-spaces/mamba-130m-hf', transformer: 'EleutherAI/pythia-160m' });
    expect(statuses()).toEqual(['ready', 'empty', 'ready']);
    expect(getState().settings.arch).toBe('both'); // 'mamba2+transformer' had no Mamba-2 to run
    expect(activeSlots(getState())).toEqual(['mamba', 'transformer']);
  });

  it('out of memory beside the loaded models: they are freed, the set loads on its own', async () => {
    w().fail.set('AntonV/mamba2-370m-hf', 'out-of-memory');
    w().fail.delete('EleutherAI/pythia-410m');
    const once = w().fail;
    // the first (staged) try runs out of memory; alone it fits
    const post = w().postMessage.bind(w());
    let staged = 0;
    w().postMessage = (req: WorkerRequest) => {
      if (req.type === 'load' && !req.stage && req.source.kind === 'hub' && req.source.repo === 'AntonV/mamba2-370m-hf') once.delete(req.source.repo);
      if (req.type === 'load' && req.stage) staged++;
      post(req);
    };
    expect(await loadPair('370m-3way')).toBe(true);
    expect(staged).toBe(2); // Mamba staged, Mamba-2 ran out of memory
    expect(held()).toEqual({ mamba: 'state-spaces/mamba-370m-hf', mamba2: 'AntonV/mamba2-370m-hf', transformer: 'EleutherAI/pythia-410m' });
    expect(statuses()).toEqual(['ready', 'ready', 'ready']);
  });
});
