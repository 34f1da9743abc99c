/**
 * The engine side of the rooflines: counts what a model ran (prefill passes and dispatches, decode steps and
 * dispatches) and, where timestamps allow, the GPU time of each phase, then turns them with the model's config and the
 * calibration into the rooflines that travel with a result (./floors). Used by the worker's experiments and the bench.
 */
import type { Calibration } from './calibrate';
import { PassTimer } from '../gpu/timing';
import type { ModelConfig } from '../hub/config';
import type { CausalLM } from '../models/base';
import { roofline, type Rates, type Roofline } from './floors';
import { outlook, type OutlookPoint } from './outlook';
import { decodeWork, prefillWork } from './work';

/** What one phase ran between PhaseMeter.start() and stop(). */
export interface PhaseCounts {
  tokens: number;
  passes: number;
  dispatches: number;
  /** Summed GPU time of its passes (timestamps), or null: no timestamps, a pass untimed, or rounding too coarse. */
  gpuMs: number | null;
}

export interface Observed {
  prefill: PhaseCounts;
  decode: PhaseCounts;
}

/** The rooflines of one measurement: its prefill, its decode (per token), and the bound along L from the config. */
export interface MeasuredRooflines {
  prefill: Roofline | null;
  decode: Roofline | null;
  outlook: { prefill: OutlookPoint[]; decode: OutlookPoint[] };
}

/** A model the meter can watch: our CausalLM with its config. */
export type MeteredModel = Pick<CausalLM, 'prefillStats' | 'decodeStats' | 'resetPrefillStats' | 'resetDecodeStats' | 'ctx' | 'weights' | 'maxContext'> & {
  passTimer: PassTimer | null;
  config: ModelConfig;
};

export function meterable(m: unknown): m is MeteredModel {
  const x = m as Partial<MeteredModel> | null;
  return !!x && typeof x === 'object' && !!x.prefillStats && !!x.decodeStats && !!x.config && typeof x.resetPrefillStats === 'function' && 'passTimer' in x;
}

export function ratesOf(c: Calibration): Rates {
  return { copyGBps: c.copyGBps, matmulGflops: c.matmulGflops, dispatchUs: c.dispatchUs };
}

/** The precision the model's matrices are held in (its first layer's input projection). */
export function matrixDTypeOf(m: MeteredModel): 'f32' | 'f16' {
  const name = m.config.arch === 'gpt-neox' ? 'gpt_neox.layers.0.attention.query_key_value.weight' : 'backbone.layers.0.mixer.in_proj.weight';
  try {
    return m.weights.matrix(name).dtype;
  } catch {
    return 'f32';
  }
}

/**
 * Counts a model's prefill and decode work between start() and stop(); with timestamps (and a calibration saying
 * they are fine enough) it times every pass too. The model's own pass timer, if any, is put back at stop().
 */
export class PhaseMeter {
  private readonly timer: PassTimer | null;
  private saved: PassTimer | null = null;
  private running = false;

  constructor(private readonly model: MeteredModel, private readonly calibration: Calibration | null, capacity = 1024) {
    this.timer = model.ctx.has('timestamp-query') ? new PassTimer(model.ctx, capacity) : null;
  }

  start(): void {
    this.model.resetPrefillStats();
    this.model.resetDecodeStats();
    if (this.timer) {
      this.timer.read().catch(() => []); // drops what an earlier run left
      if (!this.running) this.saved = this.model.passTimer;
      this.model.passTimer = this.timer;
    }
    this.running = true;
  }

  async stop(): Promise<Observed> {
    const p = this.model.prefillStats, d = this.model.decodeStats;
    const prefill: PhaseCounts = { tokens: p.tokens, passes: p.passes, dispatches: p.dispatches, gpuMs: null };
    const decode: PhaseCounts = { tokens: d.tokens, passes: d.submits, dispatches: d.dispatches, gpuMs: null };
    if (this.timer && this.running) {
      this.model.passTimer = this.saved;
      const samples = await this.timer.readLabelled();
      const q = (this.calibration?.timestamps.quantumUs ?? 0) / 1e3;
      for (const [label, c] of [['prefill', prefill], ['decode', decode]] as const) {
        const ms = samples.filter((s) => s.label === label).map((s) => s.ms);
        const sum = ms.reduce((a, b) => a + b, 0);
        // every pass timed, and long enough against the rounding (20×: at most 5% off)
        if (c.passes > 0 && ms.length === c.passes && sum > 0 && sum / c.passes >= 20 * q) c.gpuMs = sum;
      }
    }
    this.running = false;
    return { prefill, decode };
  }

  destroy(): void {
    if (this.running && this.timer) this.model.passTimer = this.saved;
    this.running = false;
    this.timer?.destroy();
  }
}

export interface WallTimes {
  /** Wall time of the prefill (ms), when that is all there is. */
  prefillMs: number | null;
  /** Wall time per decoded token (ms). */
  decodeMsPerToken: number | null;
  /** Positions in the context while decoding (e.g. the prompt + half the new tokens). */
  decodeContext: number;
}

/** Rooflines of an observed run: GPU time where the meter had it, else the wall times given. */
export function measuredRooflines(model: MeteredModel, o: Observed, wall: WallTimes, cal: Calibration | null): MeasuredRooflines | null {
  if (!cal) return null;
  const rates = ratesOf(cal);
  const c = model.config;
  const matrixDType = matrixDTypeOf(model);
  const maxBindingBytes = model.ctx.limits.maxStorageBufferBindingSize;
  let prefill: Roofline | null = null;
  if (o.prefill.tokens > 0 && o.prefill.dispatches > 0) {
    const w = prefillWork(c, o.prefill.tokens, { matrixDType, passes: o.prefill.passes, dispatches: o.prefill.dispatches });
    const measured = o.prefill.gpuMs !== null ? { ms: o.prefill.gpuMs, timing: 'gpu' as const }
      : wall.prefillMs !== null ? { ms: wall.prefillMs, timing: 'wall' as const } : null;
    prefill = roofline(w, rates, measured);
  }
  let decode: Roofline | null = null;
  if (o.decode.tokens > 0) {
    const perToken = o.decode.dispatches > 0 ? o.decode.dispatches / o.decode.tokens : undefined;
    const w = decodeWork(c, Math.round(wall.decodeContext), { matrixDType, maxBindingBytes, dispatches: perToken });
    const measured = o.decode.gpuMs !== null ? { ms: o.decode.gpuMs / o.decode.tokens, timing: 'gpu' as const }
      : wall.decodeMsPerToken !== null ? { ms: wall.decodeMsPerToken, timing: 'wall' as const } : null;
    decode = roofline(w, rates, measured);
  }
  const max = Math.min(model.maxContext, 1 << 20);
  const passTokens = o.prefill.passes > 0 ? Math.max(1, Math.round(o.prefill.tokens / o.prefill.passes)) : 1024;
  return {
    prefill,
    decode,
    outlook: {
      prefill: prefill ? outlook(c, 'prefill', rates, { matrixDType, dispatches: prefill.dispatches / prefill.passes, passTokens: Math.max(1024, passTokens), maxLength: max }) : [],
      decode: decode ? outlook(c, 'decode', rates, { matrixDType, dispatches: decode.dispatches, maxLength: max }) : [],
    },
  };
}

/** Runs `fn` with the model metered (when it can be): the value and what each phase ran. */
export async function metered<T>(model: unknown, cal: Calibration | null, fn: () => Promise<T>): Promise<{ value: T; observed: Observed | null }> {
  if (!meterable(model)) return { value: await fn(), observed: null };
  const m = new PhaseMeter(model, cal);
  try {
    m.start();
    const value = await fn();
    return { value, observed: await m.stop() };
  } finally {
    m.destroy();
  }
}
