/** UI-side handle on the GPU worker: request/response over typed messages, with streamed events and cancel. */
import type { WorkerEvent, WorkerRequest } from './protocol';

type Pending = { onEvent: (e: WorkerEvent) => void; resolve: (e: WorkerEvent) => void; reject: (e: Error) => void; final: WorkerEvent['type'][] };

export class WorkerError extends Error {
  /** status: the HTTP status of a failed download, when there was one. */
  constructor(readonly code: string, message: string, readonly status?: number) {
    super(message);
    this.name = 'WorkerError';
  }
}

export type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
export type RequestBody = DistributiveOmit<WorkerRequest, 'id'>;

/** A request in flight: its id (for cancel) and the promise of its final event. */
export interface Job<T extends WorkerEvent['type']> {
  id: number;
  result: Promise<Extract<WorkerEvent, { type: T }>>;
  cancel(): void;
}

export class GpuWorkerClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly broadcast = new Set<(e: WorkerEvent) => void>();

  constructor() {
    this.worker = new Worker(new URL('./gpu.worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (ev: MessageEvent<WorkerEvent>) => this.dispatch(ev.data);
    this.worker.onerror = (ev) => {
      for (const p of this.pending.values()) p.reject(new WorkerError('worker', ev.message || 'GPU worker crashed'));
      this.pending.clear();
    };
  }

  /** Events not tied to a request (id 0), e.g. `device-lost`. Returns an unsubscribe function. */
  onBroadcast(fn: (e: WorkerEvent) => void): () => void {
    this.broadcast.add(fn);
    return () => this.broadcast.delete(fn);
  }

  private dispatch(e: WorkerEvent): void {
    if (e.id === 0) {
      for (const fn of this.broadcast) fn(e);
      return;
    }
    const p = this.pending.get(e.id);
    if (!p) return;
    if (e.type === 'error') {
      this.pending.delete(e.id);
      p.reject(new WorkerError(e.code, e.message, e.status));
    } else if (p.final.includes(e.type)) {
      this.pending.delete(e.id);
      p.resolve(e);
    } else {
      p.onEvent(e);
    }
  }

  /** Sends a request; `result` resolves with the first event whose type is in `final`; other events go to onEvent. */
  start<T extends WorkerEvent['type']>(req: RequestBody, final: T[], onEvent: (e: WorkerEvent) => void = () => {}): Job<T> {
    const id = this.nextId++;
    const result = new Promise<Extract<WorkerEvent, { type: T }>>((resolve, reject) => {
      this.pending.set(id, { onEvent, resolve: resolve as (e: WorkerEvent) => void, reject, final });
      this.worker.postMessage({ ...req, id } as WorkerRequest);
    });
    return { id, result, cancel: () => this.cancel(id) };
  }

  /** Like start(), returning only the promise. */
  request<T extends WorkerEvent['type']>(
    req: RequestBody,
    final: T[],
    onEvent: (e: WorkerEvent) => void = () => {},
  ): Promise<Extract<WorkerEvent, { type: T }>> {
    return this.start(req, final, onEvent).result;
  }

  /** Asks the worker to abort request `target`; it then ends with `done` and `cancelled: true`. */
  cancel(target: number): void {
    this.start({ type: 'cancel', target }, ['done']).result.catch(() => {});
  }

  terminate(): void {
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(new WorkerError('terminated', 'GPU worker stopped'));
    this.pending.clear();
  }
}
