"""What showing the state costs the generation thread, per frame that changed something.

Each such frame the daemon refreshes its snapshot (what /mrt/sync answers) and builds the
push for what changed. Prints µs per frame for a crossfade frame (only the mix moved), a
parameter change, and a scene change (everything shown again), with 16 prompts, two axes
and a 2-D point. Run it on a quiet machine; the budget is the 40 ms frame.

Then the whole per-frame step, side by side in one run, alternating: before, as the daemon
called it hard-wired (its former `_publish_changes`: take the changes, Solo's check, the
crossfade's mix, the snapshot, the pusher and the page), and after, through the session's
listeners (`Session._tell`: the prompts' Solo check, the feedback's `Snapshot` with the pusher
and the page as publishers, the journal not asking), for a frame that changed nothing, a
crossfade frame and a parameter change.

    .venv/bin/python benchmarks/bench_feedback.py
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).parent.parent / "daemon"), str(Path(__file__).parent.parent / "tests")]

from mrtd.feedback import snapshot  # noqa: E402
from mrtd.vocabulary.changes import Change  # noqa: E402
from style_fakes import builtin_control  # noqa: E402


def _publish(shown: dict, state, changes: set[Change]) -> tuple[dict, dict]:
    update = getattr(snapshot, "update", None)
    if update is not None:
        return update(shown, state, changes)
    return snapshot.messages(state), snapshot.messages(state, changes)  # how the daemon did it before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=5000)
    args = parser.parse_args()
    state = builtin_control()
    rng = np.random.default_rng(0)
    for i in range(16):
        state.define_prompt(f"p{i}", f"prompt number {i}", rng.standard_normal(768).astype(np.float32),
                            weight=1.0 / 16, position=(float(rng.random()), float(rng.random())))
    state.style.define_axis("brightness", "p0", "p1")
    state.style.define_axis("density", "p2", "p3")
    state.axes = {"brightness": 0.2, "density": -0.4}
    state.xy = (0.3, 0.6)
    state.take_changes()
    shown = snapshot.messages(state)
    cases = {
        "crossfade frame (mix)": {Change.MIX},
        "parameter (temperature)": {Change.TEMPERATURE},
        "scene change (everything)": {Change.SCENE, Change.MIX, Change.AXES, Change.XY, Change.CUE},
    }
    print(f"{len(shown)} state messages; µs per frame that changed (best of 5 x {args.number}):")
    for label, changes in cases.items():
        seconds = min(timeit.repeat(lambda: _publish(shown, state, changes), number=args.number, repeat=5))
        per_frame = seconds / args.number * 1e6
        print(f"  {label:28s} {per_frame:7.1f} µs  ({per_frame / 40_000 * 100:.3f}% of a 40 ms frame)")
    _listeners_against_hard_wired(state, args.number)


def _listeners_against_hard_wired(state, number: int) -> None:
    from mrtd.core.journal import Journal
    from mrtd.core.session import Session

    published: list[dict] = []
    pusher_publish = web_publish = published.append

    class Solo:  # the prompts' listener, without an encoder thread
        def changed(self, frame, changes, state) -> None:
            if Change.SOLO in changes:
                raise AssertionError("no Solo switch here")

    last_weights: dict[str, float] = {}
    shown = {"now": snapshot.messages(state)}

    def hard_wired(control) -> None:  # the daemon's _publish_changes before the listeners
        changed = control.take_changes()
        if Change.SOLO in changed:
            raise AssertionError("no Solo switch here")
        weights = control.style.weights()
        if weights != last_weights:
            last_weights.clear()
            last_weights.update(weights)
            changed.add(Change.MIX)
        if not changed:
            return
        shown["now"], pushed = snapshot.update(shown["now"], control, changed)
        pusher_publish(pushed)
        web_publish(pushed)

    session = Session(state, None, None)  # type: ignore[arg-type]  # the listeners are all it runs here
    feedback = snapshot.Snapshot()
    feedback.show(state)
    feedback.publishers += [pusher_publish, web_publish]
    session.listen(Solo())
    session.listen(feedback)
    session.listen(Journal(Path("/nonexistent/journal.json")))
    cases = {"nothing changed": set(), "parameter (temperature)": {Change.TEMPERATURE}}
    steps = {"before: hard-wired": hard_wired, "after: session listeners": session._tell}
    print(f"the per-frame step, µs per frame (best / median of 7 x {number}, alternating):")
    for label, changes in cases.items():
        figures: dict[str, list[float]] = {name: [] for name in steps}
        for _round in range(7):
            for name, step in steps.items():
                def frame() -> None:
                    state.changed = set(changes)
                    step(state)
                figures[name].append(timeit.timeit(frame, number=number) / number * 1e6)
                published.clear()
        print(f"  {label:28s} " + "   ".join(
            f"{name}: {min(v):6.2f} / {sorted(v)[3]:6.2f}" for name, v in figures.items()))


if __name__ == "__main__":
    main()
