"""The layering holds: `lint-imports` keeps every import-linter contract of pyproject.toml (domain <- services
<- adapters <- jobs <- api <- composition; services import no connector, SQLAlchemy or httpx; the domain only
the standard library; emulators no service): `[tool.importlinter]`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def test_import_contracts_are_kept():
    # This tree's sources, whatever checkout the environment's package was installed from.
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p)
    result = subprocess.run([sys.executable, "-c", LINT_IMPORTS, "--no-cache"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHONPATH": path})
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"lint-imports failed:\n{output}"
    assert re.search(r"Contracts: [1-9]\d* kept, 0 broken", output), output
