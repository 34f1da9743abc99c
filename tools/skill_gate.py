"""The skill stage's gate (issue 17, demo run v6), shared by the training processes of one run.

A run may open with a *skill stage*: short synthetic recall rows only (the rows of the toy in tools/train_toy.py,
which taught a 2-layer Mamba the passkey), until the leader model (Mamba) answers the passkey, then the *main stage*
(the pair's recipe: text and recall rows, lengths 256 -> 2048) for its planned steps. Where the skill stage ends, G,
is the leader's decision: every `every` steps it scores its gate probes and ends the stage at the first check where
the passkey exact match reaches `exact` at every gate length, at the latest at `max_steps`.

Every model of the run trains on the same batches at the same steps, so G must be the same for all of them: the
leader writes its decisions to gate.json (atomically, in each checkpoint folder of the run) and a follower that
reaches a step the leader has not decided yet waits for it. gate.json = {"checked": c, "end": G or null,
"checks": [{"step", "exact": {L: accuracy}}, ...]}. While end is null, steps < c + every are skill steps (the leader
decides at c about the steps from c on); once end is set, steps < G are skill steps and steps >= G main steps.

Pure Python (no torch), so it is tested anywhere: tools/tests/test_skill_gate.py.
"""
import json
import os
import time


class Gate:
    def __init__(self, skill, dirs, leader):
        """skill: the run's settings["skill"] (max_steps, every, exact, lengths, ...); dirs: the checkpoint folders
        holding gate.json (the first one is read); leader: whether this process decides."""
        if skill["max_steps"] % skill["every"]:
            raise ValueError(f"skill.max_steps ({skill['max_steps']}) must be a multiple of skill.every ({skill['every']})")
        self.skill, self.dirs, self.leader = skill, list(dirs), leader
        self._cache = None

    # ------------------------------------------------------------------ the shared file
    def read(self):
        """The decisions as this process knows them: read from gate.json once, then kept. The leader's own writes
        keep it current; a follower looks at the file again only when a step's stage is not in what it knows
        (stage()), so the training loop does no file I/O per step."""
        if self._cache is None:
            self._cache = self.load()
        return self._cache

    def load(self):
        """gate.json as it is now (the first folder that has it), or the undecided start."""
        for d in self.dirs:
            p = os.path.join(d, "gate.json")
            if os.path.exists(p):
                try:
                    with open(p) as f:
                        return json.load(f)
                except (OSError, ValueError):  # a reader never sees a partial file (rename), but be safe
                    pass
        return {"checked": 0, "end": None, "checks": []}

    def _write(self, g):
        for d in self.dirs:
            os.makedirs(d, exist_ok=True)
            tmp = os.path.join(d, f".gate.json.{os.getpid()}")
            with open(tmp, "w") as f:
                json.dump(g, f, indent=1)
            os.replace(tmp, os.path.join(d, "gate.json"))
        self._cache = g

    # ------------------------------------------------------------------ queries
    def end(self):
        """G, the first step of the main stage, or None while undecided."""
        return self.read()["end"]

    def stage(self, step):
        """'skill' or 'main' for `step`, or None while the leader has not decided it."""
        s = self._stage_in(self.read(), step)
        if s is None and not self.leader:  # the leader may have decided since this process last looked
            self._cache = self.load()
            s = self._stage_in(self._cache, step)
        return s

    def _stage_in(self, g, step):
        if g["end"] is not None:
            return "skill" if step < g["end"] else "main"
        return "skill" if step < g["checked"] + self.skill["every"] else None

    def total(self, main_steps):
        """Steps of the whole run: G + the main stage's; before G is known, its upper bound. (A follower learns G
        no later than it reaches a main step: until then its schedule is the same either way.)"""
        e = self.end()
        return (self.skill["max_steps"] if e is None else e) + main_steps

    def due(self, step):
        """Whether the leader must check at `step` (the step counter after `step` steps) before going on."""
        g = self.read()
        return self.leader and g["end"] is None and step > g["checked"] and step % self.skill["every"] == 0

    # ------------------------------------------------------------------ the leader's decision
    def decide(self, step, exact):
        """The leader at `step` (a multiple of every) with its gate probes' exact match {L: accuracy}: ends the skill
        stage here if every length reaches `exact` or step reached max_steps. A step already decided (a resumed
        leader re-training steps it had trained before) keeps its earlier decision. Returns the stage's end or None."""
        if not self.leader:
            raise RuntimeError("only the leader decides the skill stage's end")
        g = json.loads(json.dumps(self.read()))
        if g["end"] is not None or step <= g["checked"]:
            return g["end"]
        passed = bool(exact) and all(v >= self.skill["exact"] for v in exact.values())
        g["checks"].append({"step": step, "exact": {str(k): v for k, v in exact.items()}, "passed": passed})
        g["checked"] = step
        if passed or step >= self.skill["max_steps"]:
            g["end"] = step
            g["reason"] = "passed" if passed else "max_steps"
        self._write(g)
        return g["end"]

    def wait(self, step, deadline, poll=0.5, log=None):
        """A follower at `step` waits until the leader has decided it or time.time() passes deadline.
        Returns the stage of the step, or None at the deadline."""
        said = False
        while True:
            s = self.stage(step)
            if s is not None:
                return s
            if time.time() > deadline:
                return None
            if log and not said:
                log(f"waiting for the leader's skill-stage decision at step {step}")
                said = True
            time.sleep(poll)
