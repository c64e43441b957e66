"""The code base stays ruff clean (the linter is part of the test extra)."""

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import missing

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        missing("ruff is not installed (pip install '.[test]' installs it)")
    out = subprocess.run([ruff, "check", "src", "tests", "examples", "bench", "tools", "docs"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
