"""tools/skill_gate.py: the leader's decisions, what a follower may train, waiting, resumes, and two processes
sharing one gate.json.

    python3 -m unittest tools/tests/test_skill_gate.py -v
"""
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from skill_gate import Gate  # noqa: E402

SKILL = {"leader": "mamba", "max_steps": 300, "every": 100, "exact": 0.9}


class GateTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gate_")
        self.dirs = [os.path.join(self.tmp, "full"), os.path.join(self.tmp, "ckpt")]

    def gates(self):
        return Gate(SKILL, self.dirs, leader=True), Gate(SKILL, self.dirs, leader=False)

    def test_undecided_steps_and_a_pass(self):
        lead, follow = self.gates()
        self.assertEqual([follow.stage(s) for s in (0, 99, 100)], ["skill", "skill", None])
        self.assertEqual(follow.total(1000), 300 + 1000)  # the upper bound while undecided
        self.assertFalse(lead.due(0))
        self.assertTrue(lead.due(100))
        self.assertFalse(follow.due(100))  # a follower never checks
        self.assertIsNone(lead.decide(100, {256: 0.5, 512: 0.95}))  # one length short: goes on
        self.assertEqual([follow.stage(s) for s in (100, 199, 200)], ["skill", "skill", None])
        self.assertEqual(lead.decide(200, {256: 0.9, 512: 0.97}), 200)
        self.assertEqual([follow.stage(s) for s in (199, 200, 5000)], ["skill", "main", "main"])
        self.assertEqual(follow.total(1000), 1200)
        self.assertFalse(lead.due(300))  # decided: no more checks
        for d in self.dirs:  # written to every folder (the full one lives on a warm machine only)
            with open(os.path.join(d, "gate.json")) as f:
                g = json.load(f)
            self.assertEqual((g["end"], g["reason"], [c["step"] for c in g["checks"]]), (200, "passed", [100, 200]))

    def test_max_steps_ends_it(self):
        lead, follow = self.gates()
        for s in (100, 200):
            self.assertIsNone(lead.decide(s, {256: 0.0}))
        self.assertEqual(lead.decide(300, {256: 0.1}), 300)
        self.assertEqual(follow.read()["reason"], "max_steps")
        self.assertEqual(follow.stage(299), "skill")
        self.assertEqual(follow.stage(300), "main")

    def test_no_probes_never_pass(self):
        lead, _ = self.gates()
        self.assertIsNone(lead.decide(100, {}))

    def test_a_resumed_leader_keeps_earlier_decisions(self):
        lead, _ = self.gates()
        lead.decide(100, {256: 0.2})
        lead.decide(200, {256: 0.3})
        again = Gate(SKILL, self.dirs, leader=True)  # a cold restart from a checkpoint at step 50
        self.assertFalse(again.due(100))
        self.assertIsNone(again.decide(100, {256: 1.0}))  # step 100 was decided (go on): a better score changes nothing
        self.assertEqual(again.stage(250), "skill")
        self.assertEqual(again.decide(300, {256: 0.95}), 300)
        self.assertEqual(again.read()["reason"], "passed")

    def test_cold_call_reads_the_compact_folder(self):
        lead, _ = self.gates()
        lead.decide(100, {256: 1.0})
        os.remove(os.path.join(self.dirs[0], "gate.json"))  # a cold machine: no full folder
        self.assertEqual(Gate(SKILL, self.dirs, leader=False).end(), 100)

    def test_a_follower_reads_the_file_only_when_it_must(self):
        lead, follow = self.gates()
        lead.decide(100, {256: 0.2})
        self.assertEqual(follow.stage(150), "skill")  # not in what it knew (checked 0): it read the file
        for d in self.dirs:
            os.remove(os.path.join(d, "gate.json"))
        self.assertEqual(follow.stage(199), "skill")  # known now: answered without the file
        self.assertEqual(follow.total(1000), 1300)

    def test_only_the_leader_decides_and_bad_settings(self):
        _, follow = self.gates()
        with self.assertRaises(RuntimeError):
            follow.decide(100, {256: 1.0})
        with self.assertRaises(ValueError):
            Gate({**SKILL, "max_steps": 250}, self.dirs, leader=True)

    def test_wait_gives_up_at_the_deadline(self):
        _, follow = self.gates()
        t = time.time()
        self.assertIsNone(follow.wait(100, deadline=t + 0.3, poll=0.05))
        self.assertGreater(time.time() - t, 0.25)
        self.assertEqual(follow.wait(50, deadline=t), "skill")

    def test_a_follower_process_waits_for_the_leader(self):
        script = textwrap.dedent(f"""
            import sys, time
            sys.path.insert(0, {os.path.join(ROOT, 'tools')!r})
            from skill_gate import Gate
            g = Gate({SKILL!r}, {self.dirs!r}, leader=False)
            t = time.time()
            print(g.wait(100, deadline=t + 20, poll=0.02), g.wait(150, deadline=t + 20, poll=0.02), round(time.time() - t, 2))
        """)
        p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        lead, _ = self.gates()
        lead.decide(100, {256: 0.95, 512: 0.93})
        out, _ = p.communicate(timeout=30)
        stage100, stage150, waited = out.split()
        self.assertEqual((stage100, stage150), ("main", "main"))
        self.assertGreater(float(waited), 0.3)  # it waited for the decision, it did not guess


if __name__ == "__main__":
    unittest.main()
