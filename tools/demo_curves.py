#!/usr/bin/env python3
"""Passkey accuracy vs training tokens for the demo models (issue 17, goal 5), from their train_log.json files
(tools/train_demo.py): every eval (first digit and exact match per length, multi-key exact per K) and, for the
skill stage's leader, its gate checks (exact match at the gate lengths every skill.every steps).

    python3 tools/demo_curves.py public/models docs/demo-v6/curves.json
"""
import json
import os
import sys


def curves(models_dir):
    out = {}
    for arch in ("mamba", "mamba2", "pythia"):
        p = os.path.join(models_dir, f"demo-{arch}", "train_log.json")
        if not os.path.exists(p):
            continue
        with open(p) as f:
            lg = json.load(f)
        tps = lg["settings"]["tokens_per_step"]
        rows = []
        for ev in lg["evals"]:
            r = {"step": ev["step"], "tokens_M": round(ev["step"] * tps / 1e6, 2)}
            for L, v in ev["passkey"].items():
                r[f"first@{L}"], r[f"exact@{L}"] = v["first"], v["exact"]
            for k, v in ev["multikey"].items():
                r[f"multikey_exact@K{k}"] = v["exact"]
            rows.append(r)
        entry = {"evals": rows}
        sk = lg.get("skill_stage")
        if sk:
            entry["skill_end"] = sk["end"]
            entry["gate_checks"] = [{"step": c["step"], "tokens_M": round(c["step"] * tps / 1e6, 2),
                                     **{f"exact@{L}": v for L, v in c["exact"].items()}} for c in sk["checks"]]
        out[arch] = entry
    return out


if __name__ == "__main__":
    src, dst = (sys.argv[1:3] + [None, None])[:2]
    res = curves(src or "public/models")
    text = json.dumps(res, indent=1)
    if dst:
        with open(dst, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
