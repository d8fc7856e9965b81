"""The layering rules of docs/architecture.md, checked by an AST scan of the source.

* ``codecs/`` and ``models/`` import no engine code (they are pure functions and model adapters
  that the engine uses, never the other way round);
* the call services (``engine/assist``, ``engine/alerts``, ``engine/postcall``, ``engine/ivr``)
  never import ``engine.sip``, ``engine.gateway`` or ``pjsua2``: they follow the event log and
  would run unchanged behind any door and any screen transport;
* ``agent_overlay/`` is static: its only Python file is the package marker (no imports, no code),
  and its scripts import only sibling modules of the same folder (no network, no other tree).

Each rule is also run against a small made-up tree that breaks it, so a rule that silently stops
matching (a renamed folder, a new import form) fails here rather than passing forever.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

#: (folder whose modules are checked, import prefixes they must not use, why)
FORBIDDEN: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("codecs", ("jiesu.engine", "jiesu.bench"), "codecs are pure and import no engine code"),
    ("models", ("jiesu.engine", "jiesu.bench"), "model adapters import no engine code"),
    *(
        (
            f"engine/{service}",
            ("jiesu.engine.sip", "jiesu.engine.gateway", "pjsua2"),
            "call services follow the event log: no SIP, no gateway, no pjsua2",
        )
        for service in ("assist", "alerts", "postcall", "ivr")
    ),
)

#: folder -> import name, as pyproject.toml maps them
PACKAGES = {
    "engine": "jiesu.engine",
    "codecs": "jiesu.codecs",
    "models": "jiesu.models",
    "bench": "jiesu.bench",
}

_JS_IMPORT = re.compile(
    r"""(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]"""
    r"""|(?:^|[;\s])import\s*['"]([^'"]+)['"]"""
    r"""|import\(\s*['"]([^'"]+)['"]\s*\)""",
    re.MULTILINE,
)
_SIBLING = re.compile(r"^\./[A-Za-z0-9_.-]+\.js$")


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.imported}: {self.rule}"


def module_name(root: Path, path: Path) -> str:
    """``engine/assist/stages.py`` -> ``jiesu.engine.assist.stages``."""
    relative = path.relative_to(root).with_suffix("")
    top, *rest = relative.parts
    parts = [PACKAGES[top], *rest]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(root: Path, path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, relative imports resolved to absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(root, path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from jiesu.engine import sip` imports jiesu.engine.sip: name each alias too.
            found.append((node.lineno, stem))
            found.extend((node.lineno, f"{stem}.{alias.name}") for alias in node.names)
    return found


def python_violations(root: Path) -> list[Violation]:
    violations: list[Violation] = []
    for folder, prefixes, rule in FORBIDDEN:
        for path in sorted((root / folder).rglob("*.py")):
            seen: set[int] = set()  # one violation per import statement
            for line, name in imports_of(root, path):
                if line not in seen and any(
                    name == p or name.startswith(p + ".") for p in prefixes
                ):
                    seen.add(line)
                    violations.append(Violation(str(path.relative_to(root)), line, name, rule))
    return violations


def overlay_violations(root: Path) -> list[Violation]:
    folder = root / "agent_overlay"
    violations: list[Violation] = []
    for path in sorted(folder.rglob("*.py")):
        where = str(path.relative_to(root))
        if path.name != "__init__.py":
            violations.append(Violation(where, 1, "-", "agent_overlay holds no Python modules"))
            continue
        body = ast.parse(path.read_text(encoding="utf-8")).body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        if body:
            rule = "agent_overlay/__init__.py is a package marker: a docstring, nothing else"
            violations.append(Violation(where, body[0].lineno, "-", rule))
    for path in sorted(folder.rglob("*.js")):
        text = path.read_text(encoding="utf-8")
        for match in _JS_IMPORT.finditer(text):
            target = next(group for group in match.groups() if group)
            if not _SIBLING.match(target):
                line = text.count("\n", 0, match.start()) + 1
                rule = "screen scripts import only sibling modules (./name.js)"
                violations.append(Violation(str(path.relative_to(root)), line, target, rule))
    return violations


def all_violations(root: Path) -> list[Violation]:
    return python_violations(root) + overlay_violations(root)


def test_the_source_tree_keeps_the_import_rules() -> None:
    violations = all_violations(ROOT)
    assert not violations, "\n".join(map(str, violations))


def test_the_scan_reads_every_folder_it_guards() -> None:
    # A rule over an empty or renamed folder would pass for nothing.
    for folder in ("codecs", "models", "engine/assist", "engine/alerts", "engine/postcall"):
        assert list((ROOT / folder).rglob("*.py")), folder
    assert list((ROOT / "agent_overlay").glob("*.js"))


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name in ("engine/__init__.py", "codecs/__init__.py", "models/__init__.py"):
        files.setdefault(name, "")
    files.setdefault("agent_overlay/__init__.py", '"""Static files."""\n')
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("name", "text", "imported"),
    [
        ("codecs/g711.py", "from jiesu.engine.audio import Leg\n", "jiesu.engine.audio"),
        ("codecs/g711.py", "import jiesu.engine.events\n", "jiesu.engine.events"),
        ("models/vad.py", "from jiesu.engine import config\n", "jiesu.engine"),
        ("engine/assist/stages.py", "from jiesu.engine.gateway.server import X\n", "gateway"),
        ("engine/assist/stages.py", "from jiesu.engine import gateway\n", "jiesu.engine.gateway"),
        ("engine/alerts/service.py", "import pjsua2 as pj\n", "pjsua2"),
        ("engine/postcall/service.py", "from ..sip.worker import run\n", "jiesu.engine.sip"),
        ("engine/ivr/dialog.py", "from jiesu.engine.sip import frames\n", "jiesu.engine.sip"),
        ("engine/assist/extract/names.py", "from ...gateway import protocol\n", "gateway"),
    ],
)
def test_each_python_rule_catches_a_breach(
    tmp_path: Path, name: str, text: str, imported: str
) -> None:
    root = _tree(tmp_path, {name: text})
    violations = all_violations(root)
    assert violations, f"{name}: {text!r} was not caught"
    assert all(v.path == name for v in violations)
    assert any(imported in v.imported for v in violations)


def test_allowed_imports_are_not_flagged(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "engine/assist/stages.py": (
                "from jiesu.engine.events import Event\n"
                "from jiesu.engine.screen_commands import EditField\n"
                "from ..follower import Follower\n"
                "import numpy as np\n"
            ),
            "engine/sip/worker.py": "import pjsua2\nfrom jiesu.engine.gateway import x\n",
            "codecs/g711.py": "import numpy as np\nfrom jiesu.codecs.payload import Codec\n",
            "agent_overlay/agent.js": "import { connect } from './link.js';\n",
        },
    )
    assert all_violations(root) == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("agent_overlay/agent.js", "import { x } from '../engine/thing.js';\n"),
        ("agent_overlay/agent.js", 'import "https://cdn.example.org/lib.js";\n'),
        ("agent_overlay/agent.js", "const m = await import('/static/other.js');\n"),
        ("agent_overlay/helper.py", "print('hi')\n"),
        ("agent_overlay/__init__.py", '"""Static."""\nimport os\n'),
    ],
)
def test_the_overlay_rule_catches_a_breach(tmp_path: Path, name: str, text: str) -> None:
    root = _tree(tmp_path, {name: text})
    assert [v.path for v in all_violations(root)] == [name]
