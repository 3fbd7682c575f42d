"""The structure docs/architecture.md draws is the one the imports make: no circles, and every
import between parts points the way the data goes. Every import counts: function-level ones (a
lazy import is still a dependency) and `if TYPE_CHECKING:` ones (they never run, but a reader
drawing the structure from the imports draws them, and a circle of types is still two modules
that each need the other)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "daemon" / "mrtd"

# The parts in the data's order: inputs turn what people send into commands; core is the session a
# live run and a render share (the control state, the scenes and their player, the engine, the
# generator, the capture) and what inputs ask of it; control holds the state; style makes the
# conditioning; engines step it into frames; runtime drives them into the ring; audio plays it out;
# feedback tells clients what changed (runtime hands it each frame's changes). A part imports only
# parts after it: what flows back (the engine a runtime drives, the state a generator or a snapshot
# reads, the scene host an input asks) is named by a contract in the shared vocabulary or by a
# Protocol in the part that reads it, never by an import against the flow.
ORDER = ("inputs", "core", "control", "style", "engines", "runtime", "audio", "feedback")
# Besides the parts: the composition root (app builds and joins every part; only it and
# __main__ import it) and the Python client (outside the daemon: it speaks only the vocabulary).
OUTSIDE_THE_FLOW = {"app", "__main__", "client"}
# The shared vocabulary every part may import, and which imports no part.
SHARED = {"frame", "conditioning", "engine", "vocabulary", "yamlcheck", "jack", "lifecycle", "helper_process", "mrtd"}
# What each part may import besides the shared vocabulary: the picture's arrows, written out.
MAY_IMPORT = {
    "inputs": {"core", "control", "style"},
    "core": {"control", "style", "engines", "runtime", "audio"},  # never inputs, feedback or app
    "control": {"style"},
    "style": {"engines"},  # the built-in embedders write along the synth's descriptor directions
    "engines": set(),
    "runtime": {"audio"},  # the generation thread writes the ring the audio callback reads
    "audio": set(),
    "feedback": set(),
    "client": set(),  # it speaks the vocabulary, from the other side
    "app": set(ORDER) | {"client"},
    "__main__": {"app"},
}


def _module_name(path: Path) -> str:
    parts = ("mrtd",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    tree = ast.parse(path.read_text())
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}  # `from mrtd.engines import mrt2`
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, set(paths)) for name, path in paths.items()}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mrtd"


def test_no_module_imports_itself_in_a_circle():
    graph = _graph()
    circles, done, path = [], set(), []

    def visit(module: str) -> None:
        if module in path:
            circles.append(path[path.index(module):] + [module])
            return
        if module in done:
            return
        path.append(module)
        for dependency in sorted(graph[module]):
            visit(dependency)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert circles == [], "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_every_import_between_parts_is_one_the_table_allows():
    against = sorted(
        f"{module} imports {dependency}"
        for module, dependencies in _graph().items()
        for dependency in dependencies
        if _part(dependency) != _part(module) and _part(dependency) not in SHARED
        and _part(dependency) not in MAY_IMPORT.get(_part(module), set())
    )
    assert against == [], "\n".join(against)


def test_the_table_names_every_part_of_the_package():
    parts = {_part(m) for m in _graph()} - SHARED
    assert parts == set(MAY_IMPORT), parts ^ set(MAY_IMPORT)


def test_the_table_has_no_arrow_against_the_data():
    # Each part may import only parts after it in ORDER; app and __main__ are the only ones
    # that import against it (they build everything), and the client imports no part at all.
    assert set(MAY_IMPORT) == set(ORDER) | OUTSIDE_THE_FLOW
    against = sorted(
        f"{part} may import {other}"
        for part in ORDER for other in MAY_IMPORT[part]
        if other not in ORDER or ORDER.index(other) <= ORDER.index(part)
    )
    assert against == [], "\n".join(against)
    assert MAY_IMPORT["client"] == set()
    assert MAY_IMPORT["__main__"] == {"app"}
    assert not any("app" in MAY_IMPORT[part] for part in MAY_IMPORT if part not in {"app", "__main__"})


def test_type_only_imports_are_arrows_too():
    # commands.py names ControlState only under TYPE_CHECKING: the graph must still hold that arrow.
    assert "mrtd.control.state" in _graph()["mrtd.control.commands"]


def test_the_shared_vocabulary_imports_no_part():
    # Every part may import it (and mrtd.client, outside the daemon), so it may import none of them.
    reaching = sorted(
        f"{module} imports {dependency}"
        for module, dependencies in _graph().items() if _part(module) in SHARED
        for dependency in dependencies if _part(dependency) not in SHARED
    )
    assert reaching == [], "\n".join(reaching)


def test_the_built_in_engines_keep_the_shared_engine_contract():
    # The runtime drives `mrtd.engine.Engine` and never imports engines/: what it asks of an
    # engine must be what every engine built on `BaseEngine` has.
    from mrtd.engine import Engine
    from mrtd.engines.synth import SynthEngine

    assert isinstance(SynthEngine(), Engine)


def test_the_control_state_has_what_runtime_and_feedback_read_of_it():
    # Runtime and feedback name what they read of the state in Protocols of their own instead of
    # importing control; the one ControlState must keep having all of it, nested parts included.
    from style_fakes import builtin_control

    from mrtd.feedback.snapshot import ShownClock, ShownNotes, ShownState, ShownStyle
    from mrtd.runtime.generator import FrameControl, Notes

    state = builtin_control()
    assert isinstance(state, FrameControl) and isinstance(state.notes, Notes)
    assert isinstance(state, ShownState)
    assert isinstance(state.style, ShownStyle) and isinstance(state.clock, ShownClock)
    assert isinstance(state.notes, ShownNotes)


def _reached_through(path: Path, field: str) -> set[str]:
    """The attributes `path` reads on `<anything>._services.<field>` or `services.<field>`."""
    reached = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == field:
            owner = node.value.value
            if (isinstance(owner, ast.Attribute) and owner.attr == "_services") or (
                    isinstance(owner, ast.Name) and owner.id == "services"):
                reached.add(node.attr)
    return reached


def test_the_surfaces_reach_the_scenes_only_through_their_narrow_protocol():
    # Inputs run on their own threads: the player is the generation thread's, the mapping table
    # and the command queue are the host's. What an input may do is `Scenes`, and the one host
    # there is must keep having all of it.
    from style_fakes import builtin_control

    from mrtd.core.scenes import SceneHost
    from mrtd.app.surface import Scenes

    allowed = {name for name in vars(Scenes) if not name.startswith("_")}
    for surface in ("surface.py", "web_surface.py"):
        reached = _reached_through(PACKAGE / "app" / surface, "scenes")
        assert reached and reached <= allowed, f"app/{surface} reaches {sorted(reached - allowed)} of the scene host"
    assert isinstance(SceneHost(builtin_control(), embedder=None), Scenes)


def test_feedback_and_the_journal_hear_the_session_only_as_its_listeners():
    # Core imports neither feedback nor app (the table holds that); what they hear of each frame
    # comes through the one interface core names, which each of them meets as it is.
    from mrtd.core.journal import Journal
    from mrtd.core.prompts import PromptController
    from mrtd.core.session import SessionListener
    from mrtd.feedback.snapshot import Snapshot

    for listener in (Snapshot, Journal, PromptController):
        assert callable(getattr(listener, "changed", None)), listener
    assert isinstance(Snapshot(), SessionListener)
    daemon_source = (PACKAGE / "app" / "daemon.py").read_text()
    assert "snapshot.update(" not in daemon_source and ".publish(" not in daemon_source, \
        "the daemon registers the feedback; it does not publish each frame itself"
