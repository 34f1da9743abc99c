"""CUDA reference timings for the WebGPU benchmarks, run on the GPU machine in the same call as the Dawn bench.

Times, on the same shapes as `npm run bench`:
  * torch.nn.functional.scaled_dot_product_attention, causal, batch 1, 12 heads x 64, fp32 and bf16, L = 512 .. 32k
  * a PyTorch reference selective scan (mamba_ssm's selective_scan_ref recurrence, a Python loop over L, fp32, with z,
    D, delta bias and softplus), batch 1, D = 1536, N = 16, and a chunked PyTorch scan (cumulative sums of Δ·A in
    chunks, as in the SSD/chunked formulation) which is the fastest pure-PyTorch form
  * a device-to-device copy (GB/s, read + write) and an fp32 / bf16 matmul (TFLOP/s) as the ceilings
Writes JSON to the path given as the first argument. `--only sdpa` times just the copy/matmul ceilings and SDPA
(about 15 s), for the attention kernel explorations. SDPA rows: the default dispatch (`backend: default`) and, for fp32,
each backend that accepts fp32 forced through torch.nn.attention.sdpa_kernel (efficient = the memory-efficient
CUTLASS kernel, math = the unfused reference); the flash backend takes only fp16/bf16.
"""
import argparse, json, math, sys, time
import torch
import torch.nn.functional as F

dev = 'cuda'
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def bench(fn, warmup=3, iters=10):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    times.sort()
    return times[len(times) // 2]


def scan_ref(u, delta, A, B, C, D, z, delta_bias):
    """mamba_ssm selective_scan_ref: u, delta, z (d, l); A (d, n); B, C (n, l); D, delta_bias (d)."""
    delta = F.softplus(delta + delta_bias[:, None])
    dA = torch.exp(delta[:, :, None] * A[:, None, :])            # (d, l, n)
    dBu = delta[:, :, None] * B.T[None, :, :] * u[:, :, None]   # (d, l, n)
    h = torch.zeros(A.shape, device=u.device)
    ys = []
    for i in range(u.shape[1]):
        h = dA[:, i] * h + dBu[:, i]
        ys.append(h @ C[:, i])
    y = torch.stack(ys, dim=1) + D[:, None] * u
    return y * F.silu(z)


def scan_chunked(u, delta, A, B, C, D, z, delta_bias, T=64):
    """Chunked parallel scan in PyTorch: within a chunk, h_t = sum_s exp(A·(S_t − S_s))·Δ_s B_s u_s (S = cumsum Δ)."""
    d, l = u.shape
    n = A.shape[1]
    delta = F.softplus(delta + delta_bias[:, None])
    pad = (-l) % T
    if pad:
        u, delta, z = (F.pad(t, (0, pad)) for t in (u, delta, z))
        B, C = F.pad(B, (0, pad)), F.pad(C, (0, pad))
    L = u.shape[1]; nc = L // T
    dl = delta.view(d, nc, T)
    S = torch.cumsum(dl, dim=2)                                   # (d, nc, T)
    x = (dl * u.view(d, nc, T))                                   # Δ u
    Bc, Cc = B.view(n, nc, T), C.view(n, nc, T)
    h = torch.zeros(d, n, device=u.device)
    ys = []
    mask = torch.tril(torch.ones(T, T, device=u.device, dtype=torch.bool))
    for c in range(nc):
        Sc = S[:, c]                                              # (d, T)
        # decay[d, n, t, s] = exp(A[d,n] * (S_t - S_s)) for s <= t
        diff = (Sc[:, :, None] - Sc[:, None, :]).masked_fill(~mask, float('inf'))
        decay = torch.exp(A[:, :, None, None] * diff[:, None])    # (d, n, T, T)
        decay = torch.nan_to_num(decay, nan=0.0)
        w = torch.einsum('dnts,ns->dnts', decay, Bc[:, c]) * x[:, c][:, None, None, :]
        hloc = w.sum(-1)                                          # (d, n, T) states from inside the chunk
        hin = torch.exp(A[:, :, None] * Sc[:, None, :]) * h[:, :, None]
        hs = hloc + hin
        ys.append(torch.einsum('dnt,nt->dt', hs, Cc[:, c]))
        h = hs[:, :, -1]
    y = torch.cat(ys, dim=1)[:, :l] + D[:, None] * u[:, :l]
    return y * F.silu(z[:, :l])


def sdpa_rows():
    """Causal SDPA, batch 1, 12 heads x 64, fp32 (TF32 off) and bf16; fp32 also per backend."""
    from torch.nn.attention import sdpa_kernel, SDPBackend
    rows = []
    for L in (512, 2048, 8192, 32768):
        flops = 4 * L * L * 64 * 12 / 2
        for dt in (torch.float32, torch.bfloat16):
            q, k, v = (torch.randn(1, 12, L, 64, device=dev, dtype=dt) for _ in range(3))
            backends = [('default', None)]
            if dt == torch.float32:
                backends += [('efficient', SDPBackend.EFFICIENT_ATTENTION)]
                if L <= 8192:
                    backends += [('math', SDPBackend.MATH)]
            for name, be in backends:
                def run():
                    return F.scaled_dot_product_attention(q, k, v, is_causal=True)
                try:
                    if be is None:
                        ms = bench(run)
                    else:
                        with sdpa_kernel([be]):
                            ms = bench(run)
                except RuntimeError as e:
                    rows.append({'L': L, 'dtype': str(dt).split('.')[1], 'backend': name, 'error': str(e).split(chr(10))[0]})
                    print('sdpa', rows[-1], flush=True)
                    continue
                rows.append({'L': L, 'dtype': str(dt).split('.')[1], 'backend': name, 'ms': ms, 'tflops': flops / (ms / 1e3) / 1e12})
                print('sdpa', rows[-1], flush=True)
            del q, k, v
            torch.cuda.empty_cache()
    return rows


def main(out, only=None):
    res = {'device': torch.cuda.get_device_name(), 'torch': torch.__version__, 'cuda': torch.version.cuda}
    x = torch.empty(256 << 20, dtype=torch.uint8, device=dev).random_()
    y = torch.empty_like(x)
    ms = bench(lambda: y.copy_(x))
    res['copy_gbps'] = 2 * x.numel() / (ms / 1e3) / 1e9
    for dt in (torch.float32, torch.bfloat16):
        a = torch.randn(8192, 8192, device=dev, dtype=dt)
        ms = bench(lambda: a @ a, iters=5)
        res[f'matmul_tflops_{str(dt).split(".")[1]}'] = 2 * 8192 ** 3 / (ms / 1e3) / 1e12
    del x, y, a
    res['sdpa'] = sdpa_rows()
    if only == 'sdpa':
        json.dump(res, open(out, 'w'), indent=1)
        print(json.dumps({k: v for k, v in res.items() if k != 'sdpa'}))
        return
    scans = []
    Dd, N = 1536, 16
    for L in (512, 2048, 8192, 32768, 131072):
        g = torch.Generator(device=dev).manual_seed(0)
        u, delta, z = (torch.randn(Dd, L, device=dev, generator=g) for _ in range(3))
        B, C = (torch.randn(N, L, device=dev, generator=g) for _ in range(2))
        A = -torch.arange(1, N + 1, device=dev, dtype=torch.float32).repeat(Dd, 1)
        D = torch.ones(Dd, device=dev); db = torch.full((Dd,), -4.0, device=dev)
        row = {'L': L}
        if L <= 8192:
            row['loop_ms'] = bench(lambda: scan_ref(u, delta, A, B, C, D, z, db), warmup=1, iters=3)
        if L <= 32768:
            T = 32
            row['chunked_ms'] = bench(lambda: scan_chunked(u, delta, A, B, C, D, z, db, T), warmup=1, iters=3)
            if L <= 2048:
                ref = scan_ref(u, delta, A, B, C, D, z, db)
                got = scan_chunked(u, delta, A, B, C, D, z, db, T)
                row['chunked_rel_err'] = ((got - ref).norm() / ref.norm()).item()
        for key in ('loop_ms', 'chunked_ms'):
            if key in row:
                row[key.replace('_ms', '_mtoks')] = L / (row[key] / 1e3) / 1e6
        scans.append(row)
        print('scan', row, flush=True)
    res['scan'] = scans
    res['official_cuda_selective_scan_h100_us'] = {'512': 46, '2048': 141, '8192': 523, '32768': 2000, '131072': 8000,
                                                   'source': 'issue 5 (measured elsewhere on an H100, fp32, batch 1)'}
    json.dump(res, open(out, 'w'), indent=1)
    print(json.dumps({k: v for k, v in res.items() if k not in ('sdpa', 'scan')}))


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('out', nargs='?', default='torch_bench.json')
    ap.add_argument('--only', choices=['sdpa'], default=None)
    a = ap.parse_args()
    main(a.out, a.only)
