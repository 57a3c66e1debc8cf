"""Imports run one way: no cycle between the package's modules (imports inside functions count), lower rooms
never import higher ones, and the guardrail runtime loads without any training code."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = {"safe_embed": ROOT / "safe_embed", "safe_embed.evaluate": ROOT / "evaluate", "safe_embed.train": ROOT / "train"}

# A room may import only from the rooms listed after it (its own modules too).
LAYERS = {
    "safe_embed.cli": None,  # the top: may import anything
    "safe_embed.commands": None,
    "safe_embed.train": {"safe_embed.train", "safe_embed.evaluate", "safe_embed.encoders", "safe_embed.data",
                         "safe_embed.scoring", "safe_embed.metrics", "safe_embed.errors", "safe_embed.paths",
                         "safe_embed.checksums", "safe_embed"},
    "safe_embed.serve": {"safe_embed.serve", "safe_embed.detector", "safe_embed.guard_prompts",
                         "safe_embed.encoders", "safe_embed.data", "safe_embed.metrics", "safe_embed.errors",
                         "safe_embed"},
    # framework hooks: on the guard, as an application uses it
    "safe_embed.integrations": {"safe_embed.integrations", "safe_embed.guard", "safe_embed.guard_client",
                                "safe_embed.guard_prompts", "safe_embed.detector", "safe_embed.errors", "safe_embed"},
    "safe_embed.guard": {"safe_embed.guard_client", "safe_embed.guard_prompts", "safe_embed.detector",
                         "safe_embed.errors", "safe_embed"},
    "safe_embed.guard_client": {"safe_embed.guard_prompts", "safe_embed.detector", "safe_embed.errors", "safe_embed"},
    "safe_embed.guard_prompts": {"safe_embed.sentences", "safe_embed.errors", "safe_embed"},
    "safe_embed.detector": {"safe_embed.detector", "safe_embed.encoders", "safe_embed.data", "safe_embed.scoring",
                            "safe_embed.metrics", "safe_embed.errors", "safe_embed.checksums", "safe_embed.paths",
                            "safe_embed.sentences", "safe_embed"},
    # sentences and clauses by punctuation: shared by the detector's units, the guard's seams and the training
    # data's pieces, importing nothing
    "safe_embed.sentences": {"safe_embed"},
    # the scoring rules: shared by the detector and training's checkpoint selection
    "safe_embed.scoring": {"safe_embed.scoring", "safe_embed.metrics", "safe_embed.errors", "safe_embed"},
    "safe_embed.evaluate": {"safe_embed.evaluate", "safe_embed.encoders", "safe_embed.data", "safe_embed.metrics",
                            "safe_embed.errors", "safe_embed.paths", "safe_embed"},
    "safe_embed.encoders": {"safe_embed.encoders", "safe_embed.errors", "safe_embed.paths", "safe_embed.checksums",
                            "safe_embed.openai_client", "safe_embed"},
    "safe_embed.data": {"safe_embed.data", "safe_embed.errors", "safe_embed.paths", "safe_embed.checksums",
                        "safe_embed.openai_client", "safe_embed.sentences", "safe_embed"},
}


def modules() -> dict[str, Path]:
    out = {}
    for prefix, tree in TREES.items():
        for p in tree.rglob("*.py"):
            rel = p.relative_to(tree).with_suffix("")
            parts = [x for x in rel.parts if x != "__init__"]
            name = ".".join([prefix, *parts])
            if prefix == "safe_embed" and parts and parts[0] in ("evaluate", "train"):
                continue
            out[name] = p
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules imported anywhere in the file (functions included), resolved to modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    base = name if is_pkg else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                anchor = base.split(".")[: len(base.split(".")) - node.level + 1]
                mod = ".".join(anchor + ([mod] if mod else []))
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: imports_of(m, p, known) for m, p in mods.items()}


def test_no_import_cycle():
    g = graph()
    # package __init__ files re-export their submodules: an edge into a package's __init__ from inside that
    # package is the import system loading the parent, not a design dependency
    inits = {m for m, p in modules().items() if p.name == "__init__.py"}
    g = {m: {t for t in deps if not (t in inits and m.startswith(t + "."))} for m, deps in g.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(g.get(m, ())):
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)


def _room(m: str) -> str:
    return max((r for r in LAYERS if m == r or m.startswith(r + ".")), key=len, default=m)


def test_lower_rooms_never_import_higher_ones():
    bad = []
    for m, deps in graph().items():
        allowed = LAYERS.get(_room(m))
        if allowed is None:
            continue
        for t in deps:
            if _room(t) not in allowed and t not in allowed:
                bad.append(f"{m} imports {t}")
    assert not bad, "\n".join(sorted(bad))


def test_the_guardrail_runtime_imports_no_training_code():
    code = ("import json, sys; import safe_embed.detector, safe_embed.serve, safe_embed.guard; "
            "import safe_embed.detector.persistence, safe_embed.detector.build, safe_embed.serve.app; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pytorch_lightning', 'lightning', 'peft', 'wandb') or m.startswith('safe_embed.train'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
