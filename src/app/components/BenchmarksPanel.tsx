/** Placeholder for the committed GPU benchmark results (a later issue charts docs/benchmarks JSON here). */
import { Card } from './ui';

export function BenchmarksPanel() {
  return (
    <div className="panel" data-testid="panel-benchmarks">
      <Card title="Benchmarks">
        <div className="placeholder">
          <div className="placeholder-icon" aria-hidden>
            ▤
          </div>
          <p>
            <b>Coming soon:</b> kernel and end-to-end results measured on datacenter GPUs and committed to the repository, charted here next to what your GPU
            measures.
          </p>
          <p className="fine">Meanwhile, the Scaling and Claims tabs measure your own device, and every run exports as JSON, CSV and PNG.</p>
        </div>
      </Card>
    </div>
  );
}
