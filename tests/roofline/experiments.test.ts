/**
 * The rooflines travel with the engine's results (src/engine: what the page and the CLIs run) once the device is
 * calibrated: every sweep point carries its prefill and decode rooflines, counted from what the model ran (the
 * decode step's dispatches are the recorded step's), and a generate ends each model with a gen-roofline event. On the
 * tiny random fixtures (Mamba f16 checkpoint, GPT-NeoX).
 */
import { describe, expect, it } from 'vitest';
import { calibrated } from '../../src/roofline/calibrate';
import type { EngineEvent } from '../../src/engine/events';
import { runGenerate } from '../../src/engine/generate';
import { runSweep } from '../../src/engine/sweep';
import { DEFAULT_KERNELS } from '../../src/models/kernel-choice';
import type { Arch } from '../../src/models/types';
import { BOUNDS, decodeDispatches } from '../../src/roofline';
import { gpu } from '../gpu';
import { tinyHub } from '../models/tiny';

const hub = tinyHub();
const never = () => new AbortController().signal;

describe('rooflines in the engine\'s results', { timeout: 600_000 }, () => {
  it('sweep points and generate runs carry their rooflines', async () => {
    const ctx = await gpu();
    const models = { mamba: await hub.load('mamba-f16'), transformer: await hub.load('pythia') };
    const events: EngineEvent[] = [];
    // before the calibration: no rooflines (nothing to divide by)
    await runSweep(models, { slots: ['mamba'], lengths: [8], decodeTokens: 2, repeats: 1, seed: 1, kernels: DEFAULT_KERNELS }, (e) => events.push(e), never());
    const first = events.find((e) => e.type === 'sweep-point');
    expect(first && first.type === 'sweep-point' && first.point.roofline).toBeNull();

    const cal = await calibrated(ctx);
    events.length = 0;
    await runSweep(models, { slots: ['mamba', 'transformer'], lengths: [8, 24], decodeTokens: 3, repeats: 2, seed: 1, kernels: DEFAULT_KERNELS }, (e) => events.push(e), never());
    const points = events.flatMap((e) => (e.type === 'sweep-point' ? [e.point] : []));
    expect(points).toHaveLength(4);
    for (const p of points) {
      const r = p.roofline!;
      const m = models[p.arch as 'mamba' | 'transformer'];
      // the prefill of the L tokens but the last (generate() feeds that one to the first decode step)
      expect(r.prefill!.tokens).toBe(p.length - 1);
      expect(r.prefill!.dispatches).toBeGreaterThan(0);
      expect(r.decode!.context).toBe(Math.round(p.length + 3 / 2)); // decoding from L: the mean position of the 3 tokens
      expect(r.decode!.dispatches).toBe(decodeDispatches(m.config, { matrixDType: p.arch === 'mamba' ? 'f16' : 'f32', maxBindingBytes: ctx.limits.maxStorageBufferBindingSize }));
      for (const x of [r.prefill!, r.decode!]) {
        expect(BOUNDS).toContain(x.bound);
        expect(x.rates).toEqual({ copyGBps: cal.copyGBps, matmulGflops: cal.matmulGflops, dispatchUs: cal.dispatchUs });
        expect(x.gap! > 0 && Number.isFinite(x.gap!)).toBe(true);
        expect(x.timing).toBe(ctx.has('timestamp-query') ? 'gpu' : 'wall');
      }
      expect(r.outlook.decode.length).toBeGreaterThan(0);
    }
    // the KV cache read grows with L; Mamba's state does not
    const at = (a: Arch, l: number) => points.find((p) => p.arch === a && p.length === l)!.roofline!.decode!;
    expect(at('transformer', 24).bytes.state).toBeGreaterThan(at('transformer', 8).bytes.state);
    expect(at('mamba', 24).bytes.state).toBe(at('mamba', 8).bytes.state);

    events.length = 0;
    await runGenerate(models, { prompt: 'The harbour master', slots: ['mamba', 'transformer'], maxNewTokens: 5, temperature: 0, topK: 0, topP: 1, seed: 0, mode: 'interleaved', batch: 2, kernels: DEFAULT_KERNELS }, (e) => events.push(e), never());
    const roofs = events.flatMap((e) => (e.type === 'gen-roofline' ? [e] : []));
    expect(roofs.map((e) => e.slot).sort()).toEqual(['mamba', 'transformer']);
    for (const e of roofs) {
      const stats = events.find((x) => x.type === 'gen-stats' && x.slot === e.slot);
      expect(stats).toBeDefined();
      expect(events.indexOf(e)).toBeGreaterThan(events.indexOf(stats!)); // after the stats
      expect(e.roofline!.decode!.tokens).toBe(1); // per token
      expect(e.roofline!.decode!.measuredMs).toBeGreaterThan(0);
    }
    for (const m of Object.values(models)) m.dispose();
  });
});
