/**
 * The roofline accounting (src/roofline/) against values worked out by hand for the demo pair
 * (public/models/demo-mamba, demo-pythia, f16) and mamba-130m / pythia-160m (tests/hub/configs, f32): weight bytes, state
 * bytes, FLOPs, dispatches, the three floors, the bound and the gap; and the words built from them. Pure: no GPU.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parseConfig, type ModelConfig } from '../../src/hub/config';
import {
  attribute, boundOf, boundRuns, boundSentence, decidePair, decodeDispatches, decodeWork, floorsOf, ifBytesBound, outlook, outlookChanges,
  prefillWork, roofline, runsPhrase, weightBytesHeld, weightBytesPerPass, type Rates,
} from '../../src/roofline';

const cfg = (path: string): ModelConfig => parseConfig(JSON.parse(readFileSync(path, 'utf8').replace(/\bInfinity\b/g, '1e999')));
const mamba130m = cfg('tests/hub/configs/state-spaces__mamba-130m-hf.json');
const pythia160m = cfg('tests/hub/configs/EleutherAI__pythia-160m.json');
const demoMamba = cfg('public/models/demo-mamba/config.json');
const demoPythia = cfg('public/models/demo-pythia/config.json');
const mamba2 = cfg('tests/hub/configs/mamba2-130m-style.json');

/** An H100-like calibration: 2 TB/s copy, 20 TFLOP/s f32 matmul, 6.6 µs per dependent dispatch. */
const H100: Rates = { copyGBps: 2000, matmulGflops: 20_000, dispatchUs: 6.6 };

describe('weights, by hand', () => {
  test('mamba-130m (f32): 129,135,360 parameters read per pass', () => {
    // per layer: in_proj 3072·768 + x_proj (48 + 32)·1536 + dt_proj 1536·48 + out_proj 768·1536 = 3,735,552
    //            norm 768 + conv 1536·4 + conv bias 1536 + dt bias 1536 + A_log 1536·16 + D 1536 = 36,096
    // 24 layers, tied head 50280·768 = 38,615,040, final norm 768
    const params = 24 * (3_735_552 + 36_096) + 38_615_040 + 768;
    expect(params).toBe(129_135_360);
    expect(weightBytesPerPass(mamba130m, 'f32')).toBe(4 * params);
    expect(weightBytesHeld(mamba130m, 'f32')).toBe(4 * params); // tied: the embedding is the head
  });

  test('pythia-160m (f32): 123,689,472 parameters per pass, + the untied input embedding held', () => {
    // per layer: qkv 2304·768 + dense 768·768 + up 3072·768 + down 768·3072 = 7,077,888
    //            LN 4·768 + qkv bias 2304 + dense bias 768 + up bias 3072 + down bias 768 = 9,984
    // 12 layers, embed_out 50304·768 = 38,633,472, final LN 2·768
    const perPass = 12 * (7_077_888 + 9_984) + 38_633_472 + 1536;
    expect(perPass).toBe(123_689_472);
    expect(weightBytesPerPass(pythia160m, 'f32')).toBe(4 * perPass);
    expect(weightBytesHeld(pythia160m, 'f32')).toBe(4 * (perPass + 38_633_472));
  });

  test('demo pair (f16 matrices, f32 parameters)', () => {
    // demo-mamba: 8 layers of 1536·384 + 56·768 + 768·24 + 384·768 = 946,176 halves, 18,048 floats; head 4096·384 halves
    expect(weightBytesPerPass(demoMamba, 'f16')).toBe(2 * 8 * 946_176 + 4 * 8 * 18_048 + 2 * 4096 * 384 + 4 * 384);
    expect(weightBytesPerPass(demoMamba, 'f16')).toBe(18_863_616);
    // demo-pythia: 4 layers of 1152·384 + 384·384 + 1280·384 + 384·1280 = 1,572,864 halves, 4,736 floats; head, final LN
    expect(weightBytesPerPass(demoPythia, 'f16')).toBe(2 * 4 * 1_572_864 + 4 * 4 * 4736 + 2 * 4096 * 384 + 4 * 768);
    expect(weightBytesPerPass(demoPythia, 'f16')).toBe(15_807_488);
    // a matrix whose input width is not a multiple of 8 stays f32 (as WeightStore keeps it): dt_rank 20
    const odd = parseConfig({ ...JSON.parse(readFileSync('public/models/demo-mamba/config.json', 'utf8')), time_step_rank: 20 });
    const dtProj = 768 * 20;
    expect(weightBytesPerPass(odd, 'f16') - weightBytesPerPass(demoMamba, 'f16')).toBe(8 * (4 * dtProj - 2 * 768 * 24 + 2 * (20 + 32) * 768 - 2 * 56 * 768));
  });
});

describe('dispatches of a decode step', () => {
  test('embedding + per-layer kernels + head + sampler', () => {
    expect(decodeDispatches(mamba130m)).toBe(1 + 4 * 24 + 1 + 1); // 99, as the H100 run counted
    expect(decodeDispatches(pythia160m)).toBe(1 + 4 * 12 + 1 + 1); // 51
    expect(decodeDispatches(demoMamba)).toBe(35);
    expect(decodeDispatches(demoPythia)).toBe(19);
    expect(decodeDispatches(mamba2)).toBe(1 + 3 * 24 + 1 + 1);
    expect(decodeDispatches(pythia160m, { sampling: 'sample' })).toBe(52);
    // a 128 MiB binding splits mamba-130m's f32 head (50280 · 768 · 4 = 154 MB) in two: embedding and head twice
    expect(decodeDispatches(mamba130m, { maxBindingBytes: 128 * 2 ** 20 })).toBe(2 + 96 + 2 + 1);
    const seq = parseConfig({ ...JSON.parse(readFileSync('tests/hub/configs/EleutherAI__pythia-160m.json', 'utf8')), use_parallel_residual: false });
    expect(decodeDispatches(seq)).toBe(1 + 5 * 12 + 2);
  });
});

describe('a decode step, by hand', () => {
  test('mamba-130m at L = 1024: dispatch-bound on an H100-like calibration', () => {
    const w = decodeWork(mamba130m, 1024);
    expect(w.bytes.weights).toBe(4 * 129_135_360 + 4 * 768); // every weight + the embedding row
    expect(w.bytes.state).toBe(24 * 2 * 4 * (1536 * 16 + 1536 * 3)); // SSM + conv state read and written: 5,603,328
    expect(w.bytes.state).toBe(5_603_328);
    // activations: per layer 2·768 + 5·1536 + 48 + 32 = 9,296 floats, + 2·768 + one logits row, ×8 bytes (write + read)
    expect(w.bytes.activations).toBe(8 * (24 * 9296 + 1536 + 50280));
    // matmuls 2 · (24 · 3,735,552 + 38,615,040); scan 24 · (7 · 1536 · 16 + 2 · 1536 · 4)
    expect(w.flops.matmul).toBe(2 * (24 * 3_735_552 + 38_615_040));
    expect(w.flops.mixer).toBe(24 * (7 * 1536 * 16 + 2 * 1536 * 4));
    expect(w.flops.exps).toBe(24 * 1536 * 16);
    expect(w.dispatches).toBe(99);
    const f = floorsOf(w, H100);
    expect(f.dispatchMs).toBeCloseTo(0.6534, 10); // 99 × 6.6 µs
    expect(f.bandwidthMs).toBeCloseTo((516_544_512 + 5_603_328 + 2_199_360) / 2e12 * 1e3, 10); // 0.262 ms
    expect(f.computeMs).toBeCloseTo((256_536_576 + 4_423_680) / 2e13 * 1e3, 10); // 0.013 ms
    const r = roofline(w, H100, { ms: 0.654, timing: 'gpu' });
    expect(r.bound).toBe('dispatch');
    expect(r.boundMs).toBeCloseTo(0.6534, 10);
    expect(r.gap).toBeCloseTo(0.654 / 0.6534, 10);
    expect(boundSentence(r)).toBe('dispatch-bound: 99 dispatches × 6.60 µs = 653 µs; measured 654 µs of GPU time, 1.0× the floor');
    expect(attribute(r).decider).toBe('implementation');
  });

  test('pythia-160m: the KV cache read grows with L and takes over the bandwidth floor', () => {
    const w = decodeWork(pythia160m, 1024);
    // K and V: 2 · 768 floats per position per layer, read for 1025 positions, the new row written
    expect(w.bytes.state).toBe(12 * 2 * 768 * 4 * (1025 + 1));
    expect(w.bytes.state).toBe(75_644_928);
    expect(w.flops.mixer).toBe(12 * 4 * 768 * 1025); // QKᵀ and PV over 1025 keys
    expect(w.flops.exps).toBe(12 * 12 * 1025);
    expect(w.bytes.weights).toBe(4 * 123_689_472 + 4 * 768);
    expect(w.dispatches).toBe(51);
    // 572 MB (0.29 ms at 2 TB/s) against 51 × 6.6 µs = 0.34 ms: still dispatch-bound at 1k
    expect(boundOf(floorsOf(w, H100))).toEqual({ bound: 'dispatch', ms: floorsOf(w, H100).dispatchMs });
    expect(floorsOf(w, H100).bandwidthMs).toBeCloseTo(571_631_616 / 2e9, 9);
    // at 131k positions the KV cache is 9.7 GB per token: bandwidth-bound, decided by the architecture
    const long = roofline(decodeWork(pythia160m, 131_072), H100, { ms: 5.5, timing: 'gpu' });
    expect(long.bound).toBe('bandwidth');
    expect(long.bytes.state).toBeGreaterThan(long.bytes.weights);
    expect(attribute(long)).toEqual({ decider: 'architecture', because: `the KV cache (${(long.bytes.state / 1e9).toFixed(2)} GB moved)` });
    // Mamba at the same length moves the same bytes as at 1k
    expect(decodeWork(mamba130m, 131_072).bytes.state).toBe(decodeWork(mamba130m, 1024).bytes.state);
  });

  test('Mamba-2 step: the recurrence over h·p·n per layer', () => {
    const w = decodeWork(mamba2, 10);
    // h = 24, p = 64, n = 128; conv over dIn + 2·g·n = 1536 + 256 = 1792 channels
    expect(w.flops.mixer).toBe(24 * (6 * 24 * 64 * 128 + 2 * 1792 * 4));
    expect(w.bytes.state).toBe(24 * 2 * 4 * (24 * 64 * 128 + 1792 * 3));
    expect(w.mixer).toBe('ssd');
  });
});

describe('a prefill, by hand', () => {
  test('pythia-160m, 1024 tokens in one pass: attention FLOPs quadratic, the KV cache written and read once', () => {
    const w = prefillWork(pythia160m, 1024, { passes: 1, dispatches: 150 });
    expect(w.flops.mixer).toBe(12 * 4 * 768 * (1024 * 1025) / 2); // 19,346,227,200
    expect(w.flops.mixer).toBe(19_346_227_200);
    expect(w.flops.matmul).toBe(2 * 1024 * 12 * 7_077_888 + 2 * 50304 * 768); // LM head on the last row only
    expect(w.bytes.state).toBe(12 * 2 * 768 * 4 * (1024 + 1024));
    expect(w.bytes.weights).toBe(4 * 123_689_472 + 1024 * 768 * 4);
    // twice the tokens: the mixer's FLOPs ×4 (−), the matmuls' ×2
    const w2 = prefillWork(pythia160m, 2048, { passes: 1, dispatches: 150 });
    expect(w2.flops.mixer / w.flops.mixer).toBeCloseTo((2048 * 2049) / (1024 * 1025), 12);
    // in two passes the second pass reads the first one's keys too: Σ ends = 1024 + 2048
    const two = prefillWork(pythia160m, 2048, { passes: 2, dispatches: 300 });
    expect(two.bytes.state).toBe(12 * 2 * 768 * 4 * (2048 + 1024 + 2048));
    expect(two.bytes.weights).toBe(2 * 4 * 123_689_472 + 2048 * 768 * 4);
  });

  test('mamba-130m: the scan is linear in L; demo pair at L = 256 with the counted dispatches', () => {
    const a = prefillWork(mamba130m, 1000, { dispatches: 200 });
    const b = prefillWork(mamba130m, 2000, { dispatches: 400, passes: 2 });
    expect(a.passes).toBe(1);
    expect(b.flops.mixer).toBe(2 * a.flops.mixer);
    expect(a.flops.mixer).toBe(1000 * 24 * (7 * 1536 * 16 + 2 * 1536 * 4));
    // the demo pair at 256 tokens: dispatch-bound on an H100-like device, Mamba's 8 layers against 4
    const m = roofline(prefillWork(demoMamba, 256, { matrixDType: 'f16', dispatches: 90 }), H100, { ms: 0.7, timing: 'gpu' });
    const t = roofline(prefillWork(demoPythia, 256, { matrixDType: 'f16', dispatches: 40 }), H100, { ms: 0.35, timing: 'gpu' });
    expect(m.bound).toBe('dispatch');
    expect(t.bound).toBe('dispatch');
    expect(m.floors.dispatchMs).toBeCloseTo(90 * 0.0066, 12);
    const v = decidePair(m, t);
    expect(v.decider).toBe('implementation');
    expect(v.sentence).toContain('Mamba is dispatch-bound, set by its dispatch count (90 dispatches)');
    // the Transformer wins (0.35 < 0.7 ms); by bytes Mamba moves more here too (its f16 weights and activations)
    const cf = ifBytesBound(m, t)!;
    expect(cf.flips).toBe(m.floors.bandwidthMs < t.floors.bandwidthMs);
    expect(cf.sentence).toMatch(/^If bytes were the bound, the verdict would (flip|stand): Mamba moves .* MB, the Transformer .* MB/);
  });

  test('Mamba-2 prefill: the SSD chunks (Q = 64) grow linearly', () => {
    const w = prefillWork(mamba2, 4096, { dispatches: 100, passes: 4 });
    expect(w.flops.mixer).toBe(24 * 4096 * (128 * 64 + 24 * 64 * 64 + 4 * 24 * 64 * 128 + 2 * 1792 * 4));
    expect(prefillWork(mamba2, 32, { dispatches: 10 }).flops.mixer).toBe(24 * 32 * (128 * 32 + 24 * 64 * 32 + 4 * 24 * 64 * 128 + 2 * 1792 * 4));
  });
});

describe('bounds along L', () => {
  test('outlook: pythia-160m decode changes from dispatch- to bandwidth-bound where the KV cache read passes 51 dispatches', () => {
    const slow: Rates = { copyGBps: 2000, matmulGflops: 20_000, dispatchUs: 20 };
    const o = outlook(pythia160m, 'decode', slow, { dispatches: 51, maxLength: 1 << 17 });
    expect(o[0].length).toBe(64);
    expect(o[0].bound).toBe('dispatch'); // 1.02 ms of dispatches against 0.26 ms of bytes
    const ch = outlookChanges(o);
    expect(ch).toHaveLength(1);
    expect(ch[0]).toMatchObject({ from: 'dispatch', to: 'bandwidth' });
    // by hand: bytes(L) = 494,760,960 + 73,728·(L + 2) + activations ≥ 1.02 ms · 2 TB/s = 2.04 GB → L ≈ 20.9k; first power of 2 above: 32k
    expect(ch[0].length).toBe(32_768);
    // Mamba's decode never changes bound with L
    expect(outlookChanges(outlook(mamba130m, 'decode', slow, { dispatches: 99 }))).toEqual([]);
  });

  test('runs of a bound along measured lengths, in words', () => {
    const s = [
      { length: 256, bound: 'dispatch' as const }, { length: 1024, bound: 'dispatch' as const },
      { length: 4096, bound: 'compute' as const }, { length: 16384, bound: 'compute' as const },
    ];
    expect(boundRuns(s)).toEqual([{ bound: 'dispatch', from: 256, to: 1024 }, { bound: 'compute', from: 4096, to: 16384 }]);
    expect(runsPhrase(s)).toBe('dispatch-bound up to L = 1k, compute-bound from 4k');
    expect(runsPhrase(s.slice(0, 2))).toBe('dispatch-bound at every length measured');
  });

  test('pythia-160m prefill at 32k is compute-bound by attention (architecture); mamba-130m by its matmuls (size)', () => {
    const t = roofline(prefillWork(pythia160m, 32_768, { passes: 32, dispatches: 32 * 120 }), H100, { ms: 2000, timing: 'gpu' });
    expect(t.bound).toBe('compute');
    expect(t.flops.mixer).toBeGreaterThan(t.flops.matmul);
    expect(attribute(t).decider).toBe('architecture');
    expect(boundSentence(t)).toMatch(/^compute-bound: .* TFLOP \(attention's L² scores .* TFLOP, matmuls .* TFLOP\) at 20.0 TFLOP\/s = /);
    const m = roofline(prefillWork(mamba130m, 32_768, { passes: 32, dispatches: 32 * 250 }), H100, { ms: 500, timing: 'gpu' });
    expect(m.bound).toBe('compute');
    expect(attribute(m).decider).toBe('size');
    expect(decidePair(m, t).decider).toBe('architecture');
    // measured far above its floor: the kernels decide
    const slow = roofline(prefillWork(mamba130m, 32_768, { passes: 32, dispatches: 32 * 250 }), H100, { ms: 5000, timing: 'gpu' });
    expect(attribute(slow).decider).toBe('implementation');
  });
});
