/**
 * The roofline's counts against the real models on this machine's adapter: tiny Mamba (f16 matrices, but dt_proj whose
 * input width 4 keeps it f32), GPT-NeoX and Mamba-2 models with random weights (the demo and 130m/160m shapes are
 * checked by hand in ./work.test.ts; here the models themselves). The weight bytes the accounting expects are the bytes
 * the model holds; the decode step's dispatch formula is the recorded step's length; a PhaseMeter counts prefill
 * passes and dispatches and times them, and the rooflines built from it are finite with a named bound.
 */
import { describe, expect, test } from 'vitest';
import { calibrated } from '../../src/roofline/calibrate';
import { countingPass } from '../../src/gpu/count';
import { parseConfig, type ModelConfig } from '../../src/hub/config';
import { KernelOps } from '../../src/models/kernel-ops';
import { randomModel } from '../../src/bench/random-model';
import { decodeDispatches, weightBytesHeld, BOUNDS } from '../../src/roofline';
import { matrixDTypeOf, measuredRooflines, meterable, PhaseMeter } from '../../src/roofline/meter';
import { mambaTensorSpecs } from '../../src/models/mamba';
import { gptNeoxTensorSpecs } from '../../src/models/gptneox';
import { mamba2TensorSpecs } from '../../src/models/mamba2';
import { gpu } from '../gpu';

const cases: [string, ModelConfig, 'f32' | 'f16'][] = [
  ['tiny-mamba', parseConfig({
    model_type: 'mamba', hidden_size: 64, state_size: 16, num_hidden_layers: 2, expand: 2, conv_kernel: 4, vocab_size: 512,
    time_step_rank: 'auto', use_bias: false, use_conv_bias: true, layer_norm_epsilon: 1e-5, tie_word_embeddings: true,
  }), 'f16'],
  ['tiny-pythia', parseConfig({
    model_type: 'gpt_neox', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 256, rotary_pct: 0.25,
    rotary_emb_base: 10000, vocab_size: 512, max_position_embeddings: 2048, use_parallel_residual: true, layer_norm_eps: 1e-5,
    hidden_act: 'gelu', tie_word_embeddings: false,
  }), 'f32'],
  ['tiny-mamba2', parseConfig({
    model_type: 'mamba2', hidden_size: 64, num_heads: 8, head_dim: 16, expand: 2, n_groups: 1, state_size: 32, num_hidden_layers: 2,
    conv_kernel: 4, vocab_size: 512, use_bias: false, use_conv_bias: true, layer_norm_epsilon: 1e-5, tie_word_embeddings: true,
  }), 'f32'],
];

test('countingPass counts every dispatch and forwards every call to the pass', () => {
  const calls: string[] = [];
  const pass = {
    label: 'p',
    setPipeline: () => calls.push('pipeline'),
    setBindGroup: () => calls.push('group'),
    dispatchWorkgroups: (x: number) => calls.push(`dispatch ${x}`),
    dispatchWorkgroupsIndirect: () => calls.push('indirect'),
  } as unknown as GPUComputePassEncoder;
  const c = { dispatches: 0 };
  const p = countingPass(pass, c);
  p.setPipeline({} as GPUComputePipeline);
  p.dispatchWorkgroups(3);
  p.setBindGroup(0, null);
  p.dispatchWorkgroups(5);
  p.dispatchWorkgroupsIndirect({} as GPUBuffer, 0);
  expect(c.dispatches).toBe(3);
  expect(calls).toEqual(['pipeline', 'dispatch 3', 'group', 'dispatch 5', 'indirect']);
  expect(p.label).toBe('p');
});

describe.each(cases)('%s', (name, cfg, dtype) => {
  test('held weight bytes, the decode step\'s dispatches, and a metered prefill + decode', async () => {
    const ctx = await gpu();
    const cal = await calibrated(ctx);
    const model = randomModel(ctx, new KernelOps(ctx), cfg, name, dtype);
    try {
      expect(meterable(model)).toBe(true);
      expect(matrixDTypeOf(model)).toBe(dtype);
      // weights: what the accounting expects is what the model holds, up to each buffer's rounding to 16 bytes
      const specs = cfg.arch === 'mamba' ? mambaTensorSpecs(cfg) : cfg.arch === 'mamba2' ? mamba2TensorSpecs(cfg) : gptNeoxTensorSpecs(cfg);
      const held = model.weights.bytes() - weightBytesHeld(cfg, dtype);
      expect(held).toBeGreaterThanOrEqual(0);
      expect(held).toBeLessThan(16 * specs.length);

      const meter = new PhaseMeter(model, cal);
      const ids = Array.from({ length: 40 }, (_, i) => (i * 37) % cfg.vocabSize);
      meter.start();
      model.reset();
      await model.prefill(ids);
      await model.decodeBatch(5, 4);
      const o = await meter.stop();
      // the recorded step is as long as the formula says
      const perStep = decodeDispatches(cfg, { matrixDType: dtype, maxBindingBytes: ctx.limits.maxStorageBufferBindingSize });
      expect(model.decodeDispatchesPerStep).toBe(perStep);
      expect(o.decode).toMatchObject({ tokens: 4, passes: 1, dispatches: 4 * perStep });
      expect(o.prefill).toMatchObject({ tokens: 40, passes: 1 });
      // a prefill records at least an embedding, a few kernels per layer, the final norm and the head
      expect(o.prefill.dispatches).toBeGreaterThan(3 * cfg.numHiddenLayers);
      if (ctx.has('timestamp-query')) {
        expect(o.prefill.gpuMs).toBeGreaterThan(0);
        expect(o.decode.gpuMs).toBeGreaterThan(0);
      } else {
        expect(o.prefill.gpuMs).toBeNull();
      }
      expect(model.passTimer).toBeNull(); // put back as it was

      // three passes of 16, 16 and 8 tokens: each records the per-layer kernels again (the scan's own passes differ
      // with the length, so not exactly three times as many)
      model.prefillChunk = 16;
      meter.start();
      model.reset();
      await model.prefill(ids);
      const three = await meter.stop();
      expect(three.prefill).toMatchObject({ tokens: 40, passes: 3 });
      expect(three.prefill.dispatches).toBeGreaterThan(o.prefill.dispatches + 2 * 3 * cfg.numHiddenLayers);
      meter.destroy();

      const r = measuredRooflines(model, o, { prefillMs: 50, decodeMsPerToken: 20, decodeContext: 42 }, cal)!;
      for (const x of [r.prefill!, r.decode!]) {
        expect(BOUNDS).toContain(x.bound);
        for (const v of [x.floors.bandwidthMs, x.floors.computeMs, x.floors.dispatchMs, x.boundMs, x.measuredMs!, x.gap!]) {
          expect(Number.isFinite(v) && v > 0).toBe(true);
        }
        expect(x.timing).toBe(ctx.has('timestamp-query') ? 'gpu' : 'wall');
      }
      expect(r.prefill!.tokens).toBe(40);
      expect(r.decode!.context).toBe(42);
      expect(r.decode!.dispatches).toBe(perStep);
      expect(r.outlook.decode.length).toBeGreaterThan(5);
    } finally {
      model.dispose();
    }
  }, 300_000);
});
