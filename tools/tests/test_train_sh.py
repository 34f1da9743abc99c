"""tools/gpu/train.sh end to end on a CPU at tiny size (a copy of the tools in a temp folder, the byte-level test
tokenizer through tools/tests/fake_python.py): call 1 returns the split archives; they are unpacked into a fresh
copy as the lead would, and call 2 resumes cold from them to the planned step. And ARCHS: a model joins the plan of
an earlier call (`ARCHS=mamba2 train.sh join`) from the unpacked archives of that call."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import lm_common as C  # noqa: E402
import test_train_demo as TT  # noqa: E402


def repo_copy(dst):
    shutil.copytree(os.path.join(ROOT, "tools"), os.path.join(dst, "tools"), ignore=shutil.ignore_patterns("__pycache__"))
    os.makedirs(os.path.join(dst, "src/recall"))
    shutil.copy(os.path.join(ROOT, "src/recall/multikey-words.json"), os.path.join(dst, "src/recall"))
    os.makedirs(os.path.join(dst, ".corpus"))


class TrainSh(unittest.TestCase):
    def run_sh(self, repo, stage, out, **env_extra):
        env = dict(os.environ, PYTHON=f"{sys.executable} {os.path.join(repo, 'tools/tests/fake_python.py')}", OUT=out,
                   BUDGET="300", PLAN_ARGS="--smoke --no-smoke --total-steps 10 --time-steps 2", **env_extra)
        p = subprocess.run(["bash", "tools/gpu/train.sh", str(stage)], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
        return p

    def test_two_calls(self):
        tmp = tempfile.mkdtemp(prefix="train_sh_test_")
        try:
            a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            repo_copy(a)
            TT.make_corpus(os.path.join(a, ".corpus/corpus.jsonl.xz"))
            out1 = os.path.join(tmp, "out1")
            p = self.run_sh(a, 1, out1)
            self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
            files = sorted(os.listdir(out1))
            self.assertEqual(files, ["mamba.tgz.00", "pythia.tgz.00", "summary.json", "train.log"])
            with open(os.path.join(out1, "train.log")) as f:
                self.assertIn("[mamba]", f.read())
            # the lead's side: a fresh checkout (no .ckpt-full = a cold machine) + the corpus + the returned files
            repo_copy(b)
            shutil.copy(os.path.join(a, ".corpus/corpus.jsonl.xz"), os.path.join(b, ".corpus"))
            for arch in ("mamba", "pythia"):
                parts = sorted(glob.glob(os.path.join(out1, f"{arch}.tgz.*")))
                subprocess.run(f"cat {' '.join(parts)} | tar xzf -", shell=True, cwd=b, check=True)
            st = C.read_json(os.path.join(b, ".ckpt/state-mamba.json"))
            first = st["step"]
            # the skill stage's end came back with the archives (a cold call's followers read it there)
            G = C.read_json(os.path.join(b, ".ckpt/gate.json"))["end"]
            self.assertEqual(G, TT.T.SMOKE["skill"]["max_steps"])
            self.assertGreater(first, 0)
            self.assertLess(first, G + 10)
            out2 = os.path.join(tmp, "out2")
            p = self.run_sh(b, 2, out2)
            self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
            for arch in ("mamba", "pythia"):
                lg = C.read_json(os.path.join(b, f"public/models/demo-{arch}/train_log.json"))
                self.assertEqual(lg["settings"]["steps"], G + 10)
                self.assertEqual([s["resume"] for s in lg["stages"]], ["fresh", "compact"])
                self.assertEqual(lg["stages"][1]["from"], first)
            # a stage-2 call with nothing to resume fails fast and packs nothing
            c = os.path.join(tmp, "c")
            repo_copy(c)
            shutil.copy(os.path.join(a, ".corpus/corpus.jsonl.xz"), os.path.join(c, ".corpus"))
            out3 = os.path.join(tmp, "out3")
            p = self.run_sh(c, 2, out3)
            self.assertNotEqual(p.returncode, 0)
            self.assertEqual([f for f in os.listdir(out3) if ".tgz" in f], [])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_a_model_joins_an_earlier_plan(self):
        tmp = tempfile.mkdtemp(prefix="train_sh_join_")
        try:
            a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            repo_copy(a)
            TT.make_corpus(os.path.join(a, ".corpus/corpus.jsonl.xz"))
            p = self.run_sh(a, "1", os.path.join(tmp, "x"), ARCHS="mamba nonsense")
            self.assertEqual(p.returncode, 2)
            self.assertIn("unknown model", p.stdout)
            out1 = os.path.join(tmp, "out1")
            p = self.run_sh(a, 1, out1, ARCHS="mamba")
            self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
            self.assertEqual(sorted(os.listdir(out1)), ["mamba.tgz.00", "summary.json", "train.log"])
            # a cold machine with the first call's archives unpacked: mamba2 joins its plan
            repo_copy(b)
            shutil.copy(os.path.join(a, ".corpus/corpus.jsonl.xz"), os.path.join(b, ".corpus"))
            parts = sorted(glob.glob(os.path.join(out1, "mamba.tgz.*")))
            subprocess.run(f"cat {' '.join(parts)} | tar xzf -", shell=True, cwd=b, check=True)
            out2 = os.path.join(tmp, "out2")
            p = self.run_sh(b, "join", out2, ARCHS="mamba2")
            self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
            self.assertEqual(sorted(os.listdir(out2)), ["mamba2.tgz.00", "summary.json", "train.log"])
            with open(os.path.join(out2, "train.log")) as f:
                log = f.read()
            self.assertIn("[mamba2]", log)
            self.assertIn("mamba2 rc=0", log)
            # what comes back: the joined plan, the tokenizer, mamba2's state and model folder
            c = os.path.join(tmp, "c")
            os.makedirs(c)
            subprocess.run(f"cat {os.path.join(out2, 'mamba2.tgz.00')} | tar xzf -", shell=True, cwd=c, check=True)
            plan = C.read_json(os.path.join(c, ".ckpt/plan.json"))
            self.assertEqual(plan["archs"], ["mamba", "mamba2"])
            self.assertEqual(plan["total_steps"], 10)
            lg = C.read_json(os.path.join(c, "public/models/demo-mamba2/train_log.json"))
            G = C.read_json(os.path.join(c, ".ckpt/gate.json"))["end"]  # mamba's skill stage, followed by mamba2
            self.assertEqual(lg["settings"]["steps"], G + 10)
            self.assertEqual(lg["stages"][0]["resume"], "fresh")
            m1 = C.read_json(os.path.join(b, "public/models/demo-mamba/train_log.json"))
            L1 = {e["step"]: e["L"] for e in m1["curve"]}
            L2 = {e["step"]: e["L"] for e in lg["curve"]}
            self.assertTrue(L1)
            self.assertEqual({k: L2[k] for k in L1}, L1)  # the same batches as the earlier call's model
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
