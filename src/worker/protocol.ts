/**
 * Typed messages between the UI thread and the GPU worker. Every request carries an id; the worker answers with
 * events tagged with the same id (progress, partial results) and exactly one final `done` or `error`.
 */
export type WorkerRequest =
  | { id: number; type: 'init' }
  | { id: number; type: 'selftest'; n: number };

export interface GpuInfo {
  vendor: string;
  architecture: string;
  description: string;
  features: string[];
  limits: Record<string, number>;
}

export type WorkerEvent =
  | { id: number; type: 'ready'; info: GpuInfo }
  | { id: number; type: 'selftest-result'; n: number; maxAbsError: number; sample: number[] }
  | { id: number; type: 'error'; code: string; message: string };
