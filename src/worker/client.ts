/** UI-side handle on the GPU worker: request/response over typed messages, with streamed events. */
import type { WorkerEvent, WorkerRequest } from './protocol';

type Pending = { onEvent: (e: WorkerEvent) => void; resolve: (e: WorkerEvent) => void; reject: (e: Error) => void; final: WorkerEvent['type'][] };

export class WorkerError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'WorkerError';
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export class GpuWorkerClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor() {
    this.worker = new Worker(new URL('./gpu.worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (ev: MessageEvent<WorkerEvent>) => this.dispatch(ev.data);
    this.worker.onerror = (ev) => {
      for (const p of this.pending.values()) p.reject(new WorkerError('worker', ev.message || 'GPU worker crashed'));
      this.pending.clear();
    };
  }

  private dispatch(e: WorkerEvent): void {
    const p = this.pending.get(e.id);
    if (!p) return;
    if (e.type === 'error') {
      this.pending.delete(e.id);
      p.reject(new WorkerError(e.code, e.message));
    } else if (p.final.includes(e.type)) {
      this.pending.delete(e.id);
      p.resolve(e);
    } else {
      p.onEvent(e);
    }
  }

  /** Sends a request; resolves with the first event whose type is in `final`; other events go to onEvent. */
  request<T extends WorkerEvent['type']>(
    req: DistributiveOmit<WorkerRequest, 'id'>,
    final: T[],
    onEvent: (e: WorkerEvent) => void = () => {},
  ): Promise<Extract<WorkerEvent, { type: T }>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { onEvent, resolve: resolve as (e: WorkerEvent) => void, reject, final });
      this.worker.postMessage({ ...req, id } as WorkerRequest);
    });
  }

  terminate(): void {
    this.worker.terminate();
  }
}
