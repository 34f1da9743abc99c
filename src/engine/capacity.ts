/**
 * Stop at capacity: in a run over growing lengths (a sweep, the recall lab), a model that runs out of memory, hits a
 * device limit or its context limit at some length stops there (its buffers trimmed, a 'limit' event saying the
 * largest length that fit) and the other model goes on. One helper for every experiment.
 */
import type { Arch, LanguageModel } from '../models/types';
import { errorCode, errorMessage, isAbort, isCapacityError } from './errors';
import type { Emit } from './events';

export class CapacityStops {
  /** Largest length each model ran at. */
  private readonly lastOk = new Map<Arch, number>();
  /** The length each stopped model stopped at: it runs no length from there on. */
  private readonly stoppedAt = new Map<Arch, number>();

  constructor(private readonly emit: Emit) {}

  /** Whether the model runs at `length`: not stopped at it or below, and within its context (else it stops here). */
  runs(slot: Arch, model: LanguageModel, length: number): boolean {
    const at = this.stoppedAt.get(slot);
    if (at !== undefined && length >= at) return false;
    if (length > model.maxContext) {
      this.stop(slot, model, length, 'context', `${model.name} takes at most ${model.maxContext} tokens on this device`);
      return false;
    }
    return true;
  }

  /** The largest length the model ran at so far, or null. */
  largestFit(slot: Arch): number | null {
    return this.lastOk.get(slot) ?? null;
  }

  /** Whether any of `slots` still runs at some length (a run over ascending lengths may end when none does). */
  anyRuns(slots: Iterable<Arch>): boolean {
    for (const s of slots) if (!this.stoppedAt.has(s)) return true;
    return false;
  }

  /**
   * Runs one measurement of `model` at `length` inside the device's error scopes. Resolves { ok: true, value } when
   * it fit; a capacity error stops the model at `length` and resolves { ok: false }; anything else (cancel included)
   * is thrown.
   */
  async attempt<T>(slot: Arch, model: LanguageModel, length: number, what: string, fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    try {
      const value = await model.ctx.checked(what, fn);
      this.lastOk.set(slot, Math.max(this.lastOk.get(slot) ?? 0, length));
      return { ok: true, value };
    } catch (e) {
      if (isAbort(e) || !isCapacityError(e)) throw e;
      const prev = this.lastOk.get(slot) ?? null;
      this.stop(slot, model, length, errorCode(e), `${model.name} stopped at L=${length} (${errorMessage(e)}); the largest length that fit was ${prev ?? 'none'}.`);
      return { ok: false };
    }
  }

  private stop(slot: Arch, model: LanguageModel, length: number, reason: string, message: string): void {
    // what a failed pass left (half-grown buffers are released by the model itself) goes back to the device
    model.reset();
    model.ctx.pool.trim();
    this.stoppedAt.set(slot, Math.min(this.stoppedAt.get(slot) ?? Infinity, length));
    this.emit({ type: 'limit', slot, length, lastOk: this.lastOk.get(slot) ?? null, reason, message });
  }
}
