#!/usr/bin/env python
"""Fail when notebooks and the package drift apart, or a notebook holds outputs or noisy metadata.

Copies the notebooks, the package and settings.ini to a scratch folder, runs `nbdev_export` and
`nbdev_clean` there, and reports every file those commands would change. Exit 0 when clean.
"""
import argparse, filecmp, os, shutil, subprocess, sys, tempfile
from pathlib import Path

def check(root: Path) -> list[str]:
    "Paths (relative to `root`) that nbdev_export or nbdev_clean would change."
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for name in ('nbs', 'mypt'): shutil.copytree(root/name, d/name, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints', '_proc'))
        shutil.copy(root/'settings.ini', d/'settings.ini')
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')
        for cmd in ('nbdev_export', 'nbdev_clean'):
            r = subprocess.run([str(bindir/cmd)], cwd=d, env=env, capture_output=True, text=True)
            if r.returncode: return [f'{cmd} failed: {r.stderr.strip()[-500:]}']
        changed = []
        for sub in ('nbs', 'mypt'):
            for p in sorted((d/sub).rglob('*')):
                if p.is_dir() or '__pycache__' in p.parts: continue
                rel = p.relative_to(d); orig = root/rel
                if not orig.exists() or not filecmp.cmp(p, orig, shallow=False): changed.append(str(rel))
            for p in sorted((root/sub).rglob('*.py' if sub == 'mypt' else '*.ipynb')):
                if '__pycache__' in p.parts or '.ipynb_checkpoints' in p.parts: continue
                if not (d/p.relative_to(root)).exists(): changed.append(f'{p.relative_to(root)} (not produced by nbdev_export)')
        return changed

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('root', nargs='?', default=Path(__file__).resolve().parent.parent, type=Path)
    changed = check(ap.parse_args().root)
    if changed:
        print('Notebooks and package are out of sync or not clean; run `nbdev_export && nbdev_clean`. Would change:', file=sys.stderr)
        for c in changed: print('  ' + c, file=sys.stderr)
        sys.exit(1)
    print('notebooks clean and in sync with mypt/')
