import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("program, issue", [("serve.py", 7)])
def test_unlanded_programs_explain_themselves(program, issue):
    help_run = subprocess.run([sys.executable, ROOT / program, "--help"], capture_output=True, text=True)
    assert help_run.returncode == 0 and "usage:" in help_run.stdout
    run = subprocess.run([sys.executable, ROOT / program], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip() == f"error: {program} is not implemented yet (issue {issue}); see README.md for what works today"
