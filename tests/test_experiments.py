"""The experiment scripts still import against the package: a renamed function must not leave
an experiment that fails only when someone tries to reproduce it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import HANG_GUARD_S

SCRIPTS = sorted(Path("experiments").glob("*/*.py"))
LOAD_EACH = """
import runpy, sys
for script in sys.argv[1:]:
    sys.path.insert(0, script.rsplit("/", 1)[0])
    runpy.run_path(script, run_name="imported_by_test")
    sys.path.pop(0)
"""


def test_every_experiment_script_loads():
    assert len(SCRIPTS) >= 6
    done = subprocess.run([sys.executable, "-c", LOAD_EACH, *map(str, SCRIPTS)], capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr[-2000:]
