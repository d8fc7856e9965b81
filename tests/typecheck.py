"""Run mypy (strict) over engine/, codecs/ and models/ under their real `jiesu.*` names.

mypy cannot follow the import hook that an editable install of mapped folders uses, so this
builds a throw-away tree `jiesu/{engine,codecs,models,...}` of symlinks and checks that.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "codecs", "models", "bench")
STRICT = ("engine", "codecs", "models")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="jiesu-mypy-") as tmp:
        pkg = Path(tmp) / "jiesu"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        for name in PACKAGES:
            os.symlink(ROOT / name, pkg / name)
        args = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
        for name in STRICT:
            args += ["-p", f"jiesu.{name}"]
        env = {**os.environ, "MYPYPATH": tmp}
        result = subprocess.run(args, cwd=tmp, env=env, text=True, capture_output=True)
        out = (result.stdout + result.stderr).replace(f"{tmp}/jiesu/", "").replace(tmp, ".")
        print(out, end="")
        return result.returncode


if __name__ == "__main__":
    sys.exit(main())
