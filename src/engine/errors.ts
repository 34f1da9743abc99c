/** How the experiments tell a cancelled run, a length that does not fit and a real failure apart. */
import { GpuError } from '../gpu/errors';

/** Thrown inside an experiment when its AbortSignal fires; the experiment then resolves with cancelled: true. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

export function checkAbort(signal: AbortSignal): void {
  if (signal.aborted) throw new Cancelled();
}

export function isAbort(e: unknown): boolean {
  return e instanceof Cancelled || (!!e && typeof e === 'object' && (e as { name?: string }).name === 'AbortError');
}

/** A stable code for an error: the GpuError codes, 'range' for a RangeError, else 'internal'. */
export function errorCode(e: unknown): string {
  if (e instanceof GpuError) return e.code;
  if (e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string') return (e as { code: string }).code;
  if (e instanceof RangeError) return 'range';
  if (e instanceof Error && e.name === 'ConfigError') return 'config';
  return 'internal';
}

/** The HTTP status of a failed download (HubError), when there was one. */
export function httpStatus(e: unknown): number | undefined {
  const st = e && typeof e === 'object' ? (e as { status?: unknown }).status : undefined;
  return typeof st === 'number' ? st : undefined;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Errors that mean "this length does not fit": a model's run stops there instead of failing. */
export function isCapacityError(e: unknown): boolean {
  const c = errorCode(e);
  return c === 'out-of-memory' || c === 'limit-exceeded' || c === 'range';
}
