/** The page shown when the browser has no WebGPU: what is missing and which browsers work. */
export function NoWebGPU({ message }: { message: string }) {
  return (
    <section className="nogpu" data-testid="no-webgpu">
      <div className="nogpu-card">
        <div className="nogpu-icon" aria-hidden>
          ⚠
        </div>
        <h2>WebGPU is not available</h2>
        <p className="lead">
          This playground runs a Mamba and a Transformer language model on your GPU through <b>WebGPU</b>, with its own compute shaders. Your browser did not give
          the page a GPU.
        </p>
        <p className="mono small detail">{message}</p>
        <h3>Browsers that work</h3>
        <table className="table support">
          <tbody>
            <tr>
              <td>Chrome, Edge (Windows, macOS, ChromeOS, Android 12+)</td>
              <td>version 113 or later — on by default</td>
            </tr>
            <tr>
              <td>Chrome on Linux</td>
              <td>
                start with <code>--enable-unsafe-webgpu</code> (and <code>--enable-features=Vulkan</code>), or enable <code>chrome://flags/#enable-unsafe-webgpu</code>
              </td>
            </tr>
            <tr>
              <td>Safari (macOS, iOS, iPadOS)</td>
              <td>Safari 26 or later</td>
            </tr>
            <tr>
              <td>Firefox</td>
              <td>Firefox 141+ on Windows; other platforms behind <code>dom.webgpu.enabled</code></td>
            </tr>
          </tbody>
        </table>
        <h3>Still not working?</h3>
        <ul>
          <li>Update the browser and the GPU driver; some GPUs and drivers are blocklisted (see <code>chrome://gpu</code>).</li>
          <li>WebGPU needs a secure context: open the page over https or from localhost.</li>
          <li>Hardware acceleration must be on in the browser settings.</li>
        </ul>
      </div>
    </section>
  );
}
