"Foundation: offline tokenizer, CLI contract, notebook/package sync check."
import configparser, json, re, shutil, subprocess, sys
from pathlib import Path
from conftest import ROOT, BIN, run_mypt

def test_tokenizer_offline_import_and_ids():
    code = ("import socket\n"
            "def _no(*a, **k): raise RuntimeError('network used')\n"
            "socket.socket.connect = _no; socket.create_connection = _no\n"
            "from mypt.tokens import Tokenizer\n"
            "t = Tokenizer(); assert t.encode('Hello world') == [15496, 995]\n"
            "assert max(t.encode('<myPT_assistant>')) < 50257\n"
            "print('ok')")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == 'ok', r.stderr

def test_cli_exit_codes():
    assert run_mypt('tokens', 'Hello world', check=0).stdout.splitlines()[1].split() == ['15496', "'Hello'"]
    r = run_mypt('nope', check=2)
    assert 'unknown command' in r.stderr and 'Traceback' not in r.stderr
    r = run_mypt('tokens', check=2)       # argparse usage error
    assert 'Traceback' not in r.stderr

def test_versions_agree():
    ini = configparser.ConfigParser(); ini.read(ROOT/'settings.ini')
    pp = re.search(r'^version = "([^"]+)"', (ROOT/'pyproject.toml').read_text(), re.M).group(1)
    import mypt
    assert ini['DEFAULT']['version'] == pp == mypt.__version__

def _copy_repo(tmp_path):
    for name in ('nbs', 'mypt', 'scripts'):
        shutil.copytree(ROOT/name, tmp_path/name, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints', '_proc'))
    shutil.copy(ROOT/'settings.ini', tmp_path)
    return tmp_path

def _check(root):
    return subprocess.run([sys.executable, str(ROOT/'scripts'/'check_notebooks.py'), str(root)], capture_output=True, text=True)

def test_sync_check_passes_on_repo():
    r = _check(ROOT)
    assert r.returncode == 0, r.stderr

def test_sync_check_catches_unexported_edit(tmp_path):
    root = _copy_repo(tmp_path)
    nb = root/'nbs'/'00_tokens.ipynb'
    d = json.loads(nb.read_text())
    cell = next(c for c in d['cells'] if c['cell_type'] == 'code' and ''.join(c['source']).startswith('#| export') and 'GPT2_VOCAB = 50257' in ''.join(c['source']))
    cell['source'] = [s.replace('VOCAB_SIZE = 50304', 'VOCAB_SIZE = 50432') for s in cell['source']]
    nb.write_text(json.dumps(d, indent=1, ensure_ascii=False) + '\n')
    r = _check(root)
    assert r.returncode == 1 and 'mypt/tokens.py' in r.stderr, r.stderr

def test_sync_check_catches_outputs(tmp_path):
    root = _copy_repo(tmp_path)
    nb = root/'nbs'/'000_core.ipynb'
    d = json.loads(nb.read_text())
    c = next(c for c in d['cells'] if c['cell_type'] == 'code')
    c['outputs'] = [{'output_type': 'stream', 'name': 'stdout', 'text': ['hi\n']}]; c['execution_count'] = 3
    nb.write_text(json.dumps(d, indent=1, ensure_ascii=False) + '\n')
    r = _check(root)
    assert r.returncode == 1 and 'nbs/000_core.ipynb' in r.stderr, r.stderr
