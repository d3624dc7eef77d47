import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def run_mypt(*args, cwd=None, env=None, timeout=600, check=None):
    "Run the installed `mypt` command; return the CompletedProcess."
    e = dict(os.environ, PYTHONUNBUFFERED='1'); e.update(env or {})
    r = subprocess.run([str(BIN/'mypt'), *map(str, args)], cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout)
    if check is not None: assert r.returncode == check, f'exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}'
    return r

@pytest.fixture
def mypt():
    return run_mypt
