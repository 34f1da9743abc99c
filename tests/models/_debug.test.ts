import { it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startHubServer } from '../../tools/hub-server.mjs';
import { HubClient, staticSource } from '../../src/hub/hub';
import { loadModel } from '../../src/models/load';
import { gpu } from '../gpu';
const now = () => performance.now();
it('debug', async () => {
  const server = await startHubServer({ root: 'public' });
  for (const name of ['demo-pythia', 'demo-mamba']) {
    const g = JSON.parse(readFileSync(`public/models/${name}/golden.json`, 'utf8'));
    const m = await loadModel(await gpu(), staticSource(`${server.url}/models/${name}`), { client: new HubClient({ cache: false }) });
    const anyM = m as any;
    await m.prefill(g.prompt_ids);
    await m.step(5);
    const L = anyM.decodeProgram.list;
    for (let i = 0; i < L.length; i++) {
      const t = now();
      const enc = anyM.ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(L.pipelines[i]); pass.setBindGroup(0, L.groups[i]);
      const x = L.dyn[i] ? L.dyn[i](42) : L.grid[3 * i];
      pass.dispatchWorkgroups(x, L.grid[3 * i + 1], L.grid[3 * i + 2]);
      pass.end();
      anyM.ctx.device.queue.submit([enc.finish()]);
      await anyM.ctx.device.queue.onSubmittedWorkDone();
      console.log(name, L.labels[i], [x, L.grid[3 * i + 1]], (now() - t).toFixed(1), 'ms');
    }
    m.dispose();
  }
  server.close();
}, 600000);
