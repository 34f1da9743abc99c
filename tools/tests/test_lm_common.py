"""Checks of tools/lm_common.py that run on a CPU with Debian's torch (no transformers / tokenizers / safetensors):
our MambaLM and NeoXLM modules reproduce the float64 golden logits of the tiny-random fixtures (written by
tools/make_golden.py through transformers), and the numpy safetensors reader/writer round-trips.

    python3 -m unittest discover -s tools/tests -v
"""
import json
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import lm_common as C  # noqa: E402

FIX = os.path.join(ROOT, "tests/fixtures/hub/tiny-random")


def load_fixture(name, cls):
    d = os.path.join(FIX, name, "resolve/main")
    cfg = C.read_json(os.path.join(d, "config.json"))
    if cls is C.MambaLM and not isinstance(cfg.get("time_step_rank"), int):
        cfg["time_step_rank"] = -(-cfg["hidden_size"] // 16)
    model = cls(cfg).double().eval()
    sd = {k: torch.from_numpy(v.astype(np.float64)) for k, v in C.read_safetensors(os.path.join(d, "model.safetensors")).items()}
    if cls is C.MambaLM:
        sd.setdefault("lm_head.weight", sd["backbone.embeddings.weight"])
    missing, unexpected = model.load_state_dict(sd, strict=False)
    return model, C.read_json(os.path.join(d, "golden.json")), missing, unexpected


class OwnModulesMatchGolden(unittest.TestCase):
    def check(self, name, cls, tol):
        model, g, missing, unexpected = load_fixture(name, cls)
        self.assertEqual(unexpected, [])
        self.assertEqual(missing, [])
        with torch.no_grad():
            logits = model(torch.tensor([g["prompt_ids"]]))[0]
            long_last = model(torch.tensor([g["long_ids"]]))[0, g["long_last_positions"][0] :]
        ref = torch.tensor(g["logits"], dtype=torch.float64).view(*g["logits_shape"])
        self.assertLess(float((logits - ref).abs().max()), tol)
        ref_long = torch.tensor(g["long_last_logits"], dtype=torch.float64).view(*g["long_last_logits_shape"])
        self.assertLess(float((long_last - ref_long).abs().max()), tol)

    def test_mamba(self):
        # transformers' Mamba rounds some intermediates to float32 (docs/demo-models.md): ~2e-6 noise floor
        self.check("mamba", C.MambaLM, 1e-5)

    def test_pythia(self):
        self.check("pythia", C.NeoXLM, 1e-5)

    def test_mamba_collects_delta(self):
        model, g, _, _ = load_fixture("mamba", C.MambaLM)
        got = []
        with torch.no_grad():
            model(torch.tensor([g["prompt_ids"]]), collect=got)
        self.assertEqual(len(got), model.cfg["num_hidden_layers"])
        self.assertEqual(tuple(got[0].shape), (1, len(g["prompt_ids"])))
        self.assertTrue(bool((got[0] > 0).all()))


class SafetensorsRoundTrip(unittest.TestCase):
    def test_round_trip(self):
        t = {"a.weight": np.arange(12, dtype=np.float16).reshape(3, 4), "b": np.array([1.5, -2], dtype=np.float32)}
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.safetensors")
            C.write_safetensors(t, p)
            back = C.read_safetensors(p)
            self.assertEqual(sorted(back), sorted(t))
            for k in t:
                self.assertEqual(back[k].dtype, t[k].dtype)
                np.testing.assert_array_equal(back[k], t[k])
            self.assertEqual(C.safetensors_keys(d)["m.safetensors"]["a.weight"], ["F16", [3, 4]])


if __name__ == "__main__":
    unittest.main()
