"""Stand-in for `python3 tools/train_demo.py ...` in tools/tests/test_train_sh.py: the same script with the byte-level
test tokenizer (no `tokenizers` / `transformers` on a CPU-only machine)."""
import os
import runpy
import sys

script = os.path.abspath(sys.argv[1])
if os.path.basename(script) != "train_demo.py":
    runpy.run_path(script, run_name="__main__")
    raise SystemExit(0)
sys.path.insert(0, os.path.dirname(script))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_train_demo as TT  # noqa: E402
import train_demo as T  # noqa: E402

T.train_tokenizer = lambda cfg, corpus: TT.ByteTokenizer()
T.load_tokenizer = TT.ByteTokenizer
T.main(sys.argv[2:] + ["--no-hf"])
