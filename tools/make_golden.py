#!/usr/bin/env python3
"""Builds tiny RANDOM Mamba / GPT-NeoX (Pythia) models with transformers and writes them,
with golden float64 reference outputs, in the Hugging Face hub URL layout:

    <out>/<org>/<repo>/resolve/main/{config.json, model.safetensors | model-0000x-of-0000n.safetensors
                                     + model.safetensors.index.json, tokenizer.json,
                                     tokenizer_config.json, golden.json}

so that a static file server rooted at <out> answers /{org}/{repo}/resolve/main/{file}.
Default <out> is tests/fixtures/hub. Needs torch, transformers (v5), tokenizers, safetensors.
The golden format is described in docs/demo-models.md ("Golden files").
"""
import argparse
import copy
import json
import math
import os
import shutil
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lm_common as C  # noqa: E402

ORG = "tiny-random"
PROMPT_TEXT = (
    "In the beginning God created the heaven and the earth. "
    "The quick brown fox jumps over the lazy dog, and the pass key is 48213."
)
N_GREEDY = 16
LONG_LEN = 300
N_LONG_LAST = 5


def mamba_config(vocab, hidden=64, state=16, layers=2, use_bias=False, tie=True):
    from transformers import MambaConfig

    return MambaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        state_size=state,
        num_hidden_layers=layers,
        expand=2,
        conv_kernel=4,
        time_step_rank="auto",
        use_bias=use_bias,
        use_conv_bias=True,
        hidden_act="silu",
        layer_norm_epsilon=1e-5,
        residual_in_fp32=True,
        tie_word_embeddings=tie,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )


def pythia_config(vocab, parallel=True, rotary_pct=0.25):
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(
        vocab_size=vocab,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        hidden_act="gelu",
        max_position_embeddings=2048,
        layer_norm_eps=1e-5,
        use_parallel_residual=parallel,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": rotary_pct},
        tie_word_embeddings=False,
        attention_bias=True,
        bos_token_id=0,
        eos_token_id=0,
    )


@torch.no_grad()
def randomize_mamba(model, seed):
    g = torch.Generator().manual_seed(seed)
    n = lambda shape, std, mean=0.0: torch.randn(shape, generator=g) * std + mean  # noqa: E731
    cfg = model.config
    bb = model.backbone
    bb.embeddings.weight.copy_(n(bb.embeddings.weight.shape, 0.3))
    for layer in bb.layers:
        m = layer.mixer
        layer.norm.weight.copy_(n(layer.norm.weight.shape, 0.1, 1.0))
        m.in_proj.weight.copy_(n(m.in_proj.weight.shape, 0.2))
        if m.in_proj.bias is not None:
            m.in_proj.bias.copy_(n(m.in_proj.bias.shape, 0.1))
        m.conv1d.weight.copy_(n(m.conv1d.weight.shape, 0.3))
        if m.conv1d.bias is not None:
            m.conv1d.bias.copy_(n(m.conv1d.bias.shape, 0.1))
        m.x_proj.weight.copy_(n(m.x_proj.weight.shape, 0.15))
        m.dt_proj.weight.copy_(n(m.dt_proj.weight.shape, 0.2))
        # dt bias: softplus(bias) log-uniform in [1e-3, 1e-1] (the reference Mamba init)
        dt = torch.exp(torch.rand(m.dt_proj.bias.shape, generator=g) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        m.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        N = cfg.state_size
        A = torch.arange(1, N + 1, dtype=torch.float32)[None, :].expand(m.A_log.shape[0], N)
        m.A_log.copy_(torch.log(A) + n(m.A_log.shape, 0.1))
        m.D.copy_(n(m.D.shape, 0.1, 1.0))
        m.out_proj.weight.copy_(n(m.out_proj.weight.shape, 0.1))
        if m.out_proj.bias is not None:
            m.out_proj.bias.copy_(n(m.out_proj.bias.shape, 0.1))
    bb.norm_f.weight.copy_(n(bb.norm_f.weight.shape, 0.1, 1.0))
    if not cfg.tie_word_embeddings:
        model.lm_head.weight.copy_(n(model.lm_head.weight.shape, 0.3))
    else:
        assert model.lm_head.weight.data_ptr() == bb.embeddings.weight.data_ptr(), "expected tied lm_head"


@torch.no_grad()
def randomize_pythia(model, seed):
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if "layernorm" in name or "layer_norm" in name:
            p.copy_(torch.randn(p.shape, generator=g) * 0.1 + (1.0 if name.endswith("weight") else 0.0))
        elif name.endswith("bias"):
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        elif "embed_in" in name:
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        elif "embed_out" in name or "lm_head" in name:
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        else:  # linear weights (out, in)
            p.copy_(torch.randn(p.shape, generator=g) * (1.5 / math.sqrt(p.shape[1])))


def load_f64(cls, repo_dir, arch):
    kw = {"attn_implementation": "eager"} if arch == "pythia" else {}
    m = cls.from_pretrained(repo_dir, **kw)
    return m.to(torch.float64).eval()


@torch.no_grad()
def greedy(model, ids, n, arch):
    """n greedy tokens using the model's cache; returns (tokens, [logits per step])."""
    logits, out = C.hf_forward(model, arch, torch.tensor([ids]), use_cache=True)
    logits = logits[0, -1]
    toks, steps = [], []
    cur = len(ids)
    for i in range(n):
        t = int(torch.argmax(logits))
        toks.append(t)
        steps.append(logits.clone())
        if i == n - 1:
            break
        inp = torch.tensor([[t]])
        if arch == "mamba":
            kw = {"cache_params": out.cache_params, "use_cache": True, "cache_position": torch.tensor([cur])}
        else:
            kw = {"past_key_values": out.past_key_values, "use_cache": True}
        logits, out = C.hf_forward(model, arch, inp, **kw)
        logits = logits[0, -1]
        cur += 1
    return toks, steps


@torch.no_grad()
def greedy_nocache(model, ids, n, arch):
    seq = list(ids)
    toks, steps = [], []
    for _ in range(n):
        logits = C.hf_forward(model, arch, torch.tensor([seq]), use_cache=False)[0][0, -1]
        t = int(torch.argmax(logits))
        toks.append(t)
        steps.append(logits.clone())
        seq.append(t)
    return toks, steps


@torch.no_grad()
def make_golden(model, arch, tok, repo_id, weights_dtype):
    V = model.config.vocab_size
    enc = tok.encode(PROMPT_TEXT)
    prompt_ids = enc.ids
    logits = C.hf_forward(model, arch, torch.tensor([prompt_ids]), use_cache=False)[0][0]  # (L, V)
    assert logits.dtype == torch.float64, logits.dtype
    n_ids, n_logits = greedy_nocache(model, prompt_ids, N_GREEDY, arch)
    # transformers 5.17's cached Mamba decode path is not float64-exact: with a cache the float64
    # logits agree with the recompute only to ~1e-6 (float32 level), so the golden greedy logits
    # of Mamba come from the float64 recompute without cache (the greedy ids must still agree).
    tol = 1e-5 if arch == "mamba" else 1e-8
    cache_error, diff_cache = None, None
    try:
        c_ids, c_logits = greedy(model, prompt_ids, N_GREEDY, arch)
        diff_cache = max(float((a - b).abs().max()) for a, b in zip(c_logits, n_logits))
        assert c_ids == n_ids, f"{repo_id}: greedy with cache {c_ids} != without {n_ids}"
        assert diff_cache < tol, f"{repo_id}: cache/no-cache logits differ by {diff_cache}"
    except Exception as e:  # keep the fixture; report loudly
        import traceback

        traceback.print_exc()
        cache_error = f"{type(e).__name__}: {e}"
        print(f"WARNING {repo_id}: cached greedy disagrees, using the no-cache recompute", flush=True)
    if arch == "mamba" or cache_error:
        g_ids, g_logits, source = n_ids, n_logits, "float64 recompute without cache"
    else:
        g_ids, g_logits, source = c_ids, c_logits, "float64 decode with cache"
    assert torch.allclose(g_logits[0], logits[-1], atol=1e-10)
    gen = torch.Generator().manual_seed(1234)
    long_ids = torch.randint(1, V, (LONG_LEN,), generator=gen).tolist()
    long_logits = C.hf_forward(model, arch, torch.tensor([long_ids]), use_cache=False)[0][0, -N_LONG_LAST:]
    checks = {
        "greedy_cache_equals_nocache": cache_error is None,
        "greedy_cache_error": cache_error,
        "max_abs_diff_cache_vs_nocache": diff_cache,
        "greedy_logits_source": source,
        "prompt_logits_std": float(logits.std()),
        "distinct_argmax_over_prompt": int(len(set(logits.argmax(-1).tolist()))),
        "greedy_min_top1_top2_margin": min(float(v.topk(2).values[0] - v.topk(2).values[1]) for v in g_logits),
    }
    if arch == "mamba":
        # independent chunked-scan implementation (tools/lm_common.py), pure float64
        ref = C.mamba_logits_fast(model, torch.tensor([prompt_ids]))[0]
        checks["max_abs_diff_vs_independent_impl"] = float((ref - logits).abs().max())
        ref_long = C.mamba_logits_fast(model, torch.tensor([long_ids]))[0, -N_LONG_LAST:]
        checks["max_abs_diff_vs_independent_impl_long"] = float((ref_long - long_logits).abs().max())
    return {
        "format": "mamba-vs-transformer golden v1",
        "model": repo_id,
        "architecture": model.config.architectures[0] if model.config.architectures else type(model).__name__,
        "weights_dtype": weights_dtype,
        "reference_dtype": "float64",
        "vocab_size": V,
        "prompt_text": PROMPT_TEXT,
        "prompt_ids": prompt_ids,
        "logits_shape": list(logits.shape),
        "logits": C.r7(logits.flatten().tolist()),
        "greedy_ids": g_ids,
        "greedy_logits_shape": [len(g_logits), V],
        "greedy_logits": C.r7(torch.stack(g_logits).flatten().tolist()),
        "long_ids": long_ids,
        "long_last_positions": list(range(LONG_LEN - N_LONG_LAST, LONG_LEN)),
        "long_last_logits_shape": [N_LONG_LAST, V],
        "long_last_logits": C.r7(long_logits.flatten().tolist()),
        "tokenizer_cases": C.tokenizer_cases(tok),
        "checks": checks,
    }


def fix_config_dtype(repo_dir, dtype_name):
    p = os.path.join(repo_dir, "config.json")
    with open(p) as f:
        cfg = json.load(f)
    cfg["dtype"] = dtype_name
    if "torch_dtype" in cfg:
        cfg["torch_dtype"] = dtype_name
    with open(p, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def save_repo(model, tok, out_root, repo, dtype, max_shard_size=None):
    repo_dir = os.path.join(out_root, ORG, repo, "resolve", "main")
    if os.path.exists(repo_dir):
        shutil.rmtree(repo_dir)
    os.makedirs(repo_dir)
    m = copy.deepcopy(model).to(dtype)
    kw = {"max_shard_size": max_shard_size} if max_shard_size else {}
    m.save_pretrained(repo_dir, **kw)
    # generation_config.json is not needed by the app; keep the fixture minimal
    gc = os.path.join(repo_dir, "generation_config.json")
    if os.path.exists(gc):
        os.remove(gc)
    fix_config_dtype(repo_dir, str(dtype).replace("torch.", ""))
    C.save_tokenizer(tok, repo_dir)
    return repo_dir


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/hub")
    ap.add_argument("--text", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tiny_english.txt"))
    args = ap.parse_args()
    t0 = time.time()
    torch.set_num_threads(min(4, os.cpu_count() or 1))
    from transformers import GPTNeoXForCausalLM, MambaForCausalLM

    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    paras = [p for p in text.split("\n\n") if p.strip()]
    tok = C.train_bpe_tokenizer(paras, vocab_size=512)
    V = tok.get_vocab_size()
    print(f"tokenizer: vocab {V}, prompt -> {len(tok.encode(PROMPT_TEXT).ids)} tokens", flush=True)

    prompt = torch.tensor([tok.encode(PROMPT_TEXT).ids])

    @torch.no_grad()
    def build(cls, cfg, randomize, arch, base_seed):
        """Random weights; among a few seeds take one whose greedy continuation is varied
        (random models easily fall into repeating one token, a weak decode test)."""
        best = None
        for seed in range(base_seed, base_seed + 24):
            torch.manual_seed(seed)
            model = cls(cfg).eval()
            randomize(model, seed)
            seq, margin = prompt, float("inf")
            for _ in range(N_GREEDY):
                last = C.hf_forward(model, arch, seq, use_cache=False)[0][:, -1]
                top2 = last.topk(2, dim=-1).values[0]
                margin = min(margin, float(top2[0] - top2[1]))
                seq = torch.cat([seq, last.argmax(-1, keepdim=True)], dim=1)
            n_distinct = len(set(seq[0, prompt.shape[1]:].tolist()))
            score = n_distinct if margin >= 0.01 else n_distinct - 100
            if best is None or score > best[0]:
                best = (score, seed, model, n_distinct, margin)
            if n_distinct >= 10 and margin >= 0.01:
                break
        print(f"{cls.__name__}: seed {best[1]}, {best[3]} distinct greedy tokens, min top1-top2 margin {best[4]:.4f}",
              flush=True)
        return best[2]

    specs = []
    mamba = build(MambaForCausalLM, mamba_config(V, hidden=64, state=8, layers=2, use_bias=False, tie=True),
                  randomize_mamba, "mamba", 100)
    specs += [("mamba", mamba, "mamba", MambaForCausalLM, torch.float32, None)]
    specs += [("mamba-f16", mamba, "mamba", MambaForCausalLM, torch.float16, None)]
    specs += [("mamba-bf16", mamba, "mamba", MambaForCausalLM, torch.bfloat16, None)]
    mamba_b = build(MambaForCausalLM, mamba_config(V, hidden=48, state=16, layers=3, use_bias=True, tie=False),
                    randomize_mamba, "mamba", 200)
    specs += [("mamba-bias", mamba_b, "mamba", MambaForCausalLM, torch.float32, None)]
    pythia = build(GPTNeoXForCausalLM, pythia_config(V, parallel=True, rotary_pct=0.25), randomize_pythia, "pythia", 300)
    specs += [("pythia", pythia, "pythia", GPTNeoXForCausalLM, torch.float32, None)]
    specs += [("pythia-f16", pythia, "pythia", GPTNeoXForCausalLM, torch.float16, None)]
    specs += [("pythia-bf16", pythia, "pythia", GPTNeoXForCausalLM, torch.bfloat16, None)]
    specs += [("pythia-sharded", pythia, "pythia", GPTNeoXForCausalLM, torch.float32, "200KB")]
    pythia_s = build(GPTNeoXForCausalLM, pythia_config(V, parallel=False, rotary_pct=0.5), randomize_pythia, "pythia", 400)
    specs += [("pythia-seq", pythia_s, "pythia", GPTNeoXForCausalLM, torch.float32, None)]

    summary = {}
    for repo, model, arch, cls, dtype, shard in specs:
        repo_dir = save_repo(model, tok, args.out, repo, dtype, shard)
        files = sorted(os.listdir(repo_dir))
        if shard:
            n_shards = len([f for f in files if f.startswith("model-") and f.endswith(".safetensors")])
            assert n_shards >= 2 and "model.safetensors.index.json" in files, files
        m64 = load_f64(cls, repo_dir, arch)
        # the reloaded model must equal the in-memory one rounded to `dtype`
        ref_sd = {k: v.to(dtype).to(torch.float64) for k, v in model.state_dict().items()}
        for k, v in m64.state_dict().items():
            assert torch.equal(v, ref_sd[k]), f"{repo}: reloaded tensor {k} differs"
        golden = make_golden(m64, arch, tok, f"{ORG}/{repo}", str(dtype).replace("torch.", ""))
        C.dump_json(golden, os.path.join(repo_dir, "golden.json"))
        size = sum(os.path.getsize(os.path.join(repo_dir, f)) for f in files)
        summary[repo] = {
            "params": C.count_params(model),
            "tensors": C.safetensors_keys(repo_dir),
            "files": files,
            "bytes": size,
            "greedy_ids": golden["greedy_ids"],
            "checks": golden["checks"],
        }
        print(f"{ORG}/{repo}: {json.dumps(summary[repo])}", flush=True)
    total = 0
    for dp, _, fs in os.walk(args.out):
        total += sum(os.path.getsize(os.path.join(dp, f)) for f in fs)
    print(f"total fixture bytes: {total}  ({time.time() - t0:.1f}s)", flush=True)


if __name__ == "__main__":
    main()
