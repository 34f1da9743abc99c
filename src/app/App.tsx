import { useEffect, useState } from 'react';
import { GpuWorkerClient } from '../worker/client';
import type { GpuInfo } from '../worker/protocol';

type Status =
  | { kind: 'starting' }
  | { kind: 'no-webgpu'; message: string }
  | { kind: 'ready'; info: GpuInfo; selftest: { ok: boolean; maxAbsError: number; sample: number[] } }
  | { kind: 'error'; message: string };

export function App() {
  const [status, setStatus] = useState<Status>({ kind: 'starting' });
  useEffect(() => {
    if (!('gpu' in navigator)) {
      setStatus({ kind: 'no-webgpu', message: 'navigator.gpu is undefined' });
      return;
    }
    const client = new GpuWorkerClient();
    (async () => {
      const ready = await client.request({ type: 'init' }, ['ready']);
      const st = await client.request({ type: 'selftest', n: 1 << 16 }, ['selftest-result']);
      setStatus({ kind: 'ready', info: ready.info, selftest: { ok: st.maxAbsError === 0, maxAbsError: st.maxAbsError, sample: st.sample } });
    })().catch((e: Error & { code?: string }) =>
      setStatus(e.code === 'no-webgpu' || e.code === 'no-adapter' ? { kind: 'no-webgpu', message: e.message } : { kind: 'error', message: e.message }),
    );
    return () => client.terminate();
  }, []);

  return (
    <main>
      <h1>Mamba vs Transformer</h1>
      {status.kind === 'starting' && <p>Starting WebGPU…</p>}
      {status.kind === 'no-webgpu' && (
        <section data-testid="no-webgpu">
          <h2>WebGPU is not available</h2>
          <p>{status.message}</p>
        </section>
      )}
      {status.kind === 'error' && <p data-testid="error">{status.message}</p>}
      {status.kind === 'ready' && (
        <section data-testid="gpu-ready">
          <p>
            GPU: {status.info.vendor} {status.info.architecture} {status.info.description}
          </p>
          <p data-testid="selftest" data-ok={String(status.selftest.ok)}>
            Self-test (copy kernel): {status.selftest.ok ? 'ok' : `max error ${status.selftest.maxAbsError}`}
          </p>
        </section>
      )}
    </main>
  );
}
