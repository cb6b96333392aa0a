"""Static type check: ``pyright rlssm`` (config in pyproject.toml) reports no errors."""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyright_command() -> list[str]:
    """``python -m pyright`` (the PyPI package), else the ``pyright`` next to the interpreter."""
    if importlib.util.find_spec("pyright") is not None:
        return [sys.executable, "-m", "pyright"]
    exe = Path(sys.executable).parent / ("pyright.exe" if sys.platform == "win32" else "pyright")
    assert exe.exists(), "pyright is not installed (it is part of the 'test' extra)"
    return [str(exe)]


def test_pyright_reports_no_errors():
    proc = subprocess.run(
        [*_pyright_command(), "rlssm"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"pyright failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
