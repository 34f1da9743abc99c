/// <reference lib="webworker" />
/** The GPU worker: owns the WebGPU device and all GPU work; the UI talks to it only through ./protocol messages. */
import { acquireDevice } from '../gpu/device';
import { GpuContext } from '../gpu/context';
import { GpuError } from '../gpu/errors';
import { CopyKernel } from '../kernels/copy';
import type { WorkerEvent, WorkerRequest } from './protocol';

declare const self: DedicatedWorkerGlobalScope;
let ctxPromise: Promise<GpuContext> | null = null;

function context(): Promise<GpuContext> {
  ctxPromise ??= acquireDevice(navigator.gpu).then((a) => new GpuContext(a));
  return ctxPromise;
}

function post(e: WorkerEvent): void {
  self.postMessage(e);
}

async function handle(req: WorkerRequest): Promise<void> {
  switch (req.type) {
    case 'init': {
      const ctx = await context();
      const info = ctx.acquired.adapterInfo;
      post({
        id: req.id,
        type: 'ready',
        info: { ...info, features: [...ctx.features], limits: { ...ctx.limits } },
      });
      return;
    }
    case 'selftest': {
      // Runs the copy kernel on n floats and checks the result: proves the page reaches a working GPU pipeline.
      const ctx = await context();
      const x = new Float32Array(req.n).map((_, i) => Math.sin(i) * 1000);
      const src = ctx.upload(x);
      const dst = ctx.buffer(req.n * 4);
      const k = new CopyKernel(ctx);
      ctx.run((pass) => k.encode(pass, src, dst, req.n));
      const y = await ctx.readF32(dst, req.n);
      let err = 0;
      for (let i = 0; i < req.n; i++) err = Math.max(err, Math.abs(y[i] - x[i]));
      ctx.pool.release(src);
      ctx.pool.release(dst);
      post({ id: req.id, type: 'selftest-result', n: req.n, maxAbsError: err, sample: Array.from(y.slice(0, 4)) });
      return;
    }
  }
}

self.onmessage = (ev: MessageEvent<WorkerRequest>) => {
  const req = ev.data;
  handle(req).catch((e: unknown) => {
    const code = e instanceof GpuError ? e.code : 'internal';
    post({ id: req.id, type: 'error', code, message: e instanceof Error ? e.message : String(e) });
  });
};
