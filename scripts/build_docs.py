#!/usr/bin/env python
"""Build the docs site offline: execute every notebook and render it to HTML under _docs/.

Users with Quarto installed can run `nbdev_docs` instead (settings.ini is configured for it); this
renderer needs only nbclient and nbconvert, so the site also builds on machines without Quarto.
It also writes README.md from nbs/index.ipynb (`--readme` does only that).

    python scripts/build_docs.py            # _docs/index.html and one page per notebook
    python scripts/build_docs.py --readme   # README.md only
    python -m http.server -d _docs 8000     # preview
"""
import argparse, html, re, sys, time
from pathlib import Path
import nbformat

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
DIRECTIVE = re.compile(r'^\s*#\|\s*(.*)$')

def notebooks():
    "index first, then the chapters in name order."
    nbs = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith('_'))
    return sorted(nbs, key=lambda p: (p.stem != 'index', p.stem))

def directives(cell):
    return [m.group(1).strip() for m in map(DIRECTIVE.match, cell.source.splitlines()) if m]

def strip_directives(nb):
    "Drop hidden cells and `#|` directive lines, as nbdev's renderer does."
    cells = []
    for c in nb.cells:
        if c.cell_type == 'code':
            ds = directives(c)
            if any(d.split()[0] in ('hide', 'default_exp') for d in ds if d): continue
            c.source = '\n'.join(l for l in c.source.splitlines() if not DIRECTIVE.match(l)).strip('\n')
            if not c.source and not c.get('outputs'): continue
            if 'parameters' in c.metadata.get('tags', []): c.source = '# parameters (papermill can override these)\n' + c.source
        cells.append(c)
    nb.cells = cells
    return nb

def title_of(nb, default):
    for c in nb.cells:
        if c.cell_type == 'markdown':
            m = re.search(r'^#\s+(.+)$', c.source, re.M)
            if m: return m.group(1).strip()
    return default

def write_readme(out=ROOT/'README.md'):
    from nbconvert import MarkdownExporter
    nb = strip_directives(nbformat.read(NBS/'index.ipynb', as_version=4))
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs = []
    body, _ = MarkdownExporter().from_notebook_node(nb)
    Path(out).write_text(body.strip() + '\n', encoding='utf-8')
    return Path(out)

NAV_CSS = """<style>
body{margin:0}.mypt-nav{position:fixed;top:0;left:0;bottom:0;width:220px;overflow:auto;background:#263238;padding:16px 12px;font:14px system-ui,sans-serif}
.mypt-nav a{display:block;color:#eceff1;text-decoration:none;padding:5px 8px;border-radius:4px}.mypt-nav a.cur{background:#455a64}
.mypt-nav .brand{font-weight:bold;font-size:18px;margin-bottom:12px}.mypt-main{margin-left:240px;max-width:1000px;padding:8px 24px}
</style>"""

def build_site(out, timeout, kernel):
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter
    out.mkdir(parents=True, exist_ok=True)
    pages = []
    for p in notebooks():
        nb = nbformat.read(p, as_version=4)
        pages.append((p, 'index.html' if p.stem == 'index' else f'{p.stem}.html', title_of(nb, p.stem)))
    failures = []
    for p, fname, title in pages:
        t0 = time.time()
        nb = nbformat.read(p, as_version=4)
        try:
            NotebookClient(nb, timeout=timeout, kernel_name=kernel, resources={'metadata': {'path': str(NBS)}}).execute()
        except Exception as e:                      # keep going, report all failures at the end
            failures.append(f'{p.name}: {type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ""}')
            continue
        exp = HTMLExporter(template_name='lab'); exp.exclude_input_prompt = True; exp.exclude_output_prompt = True
        body, _ = exp.from_notebook_node(strip_directives(nb))
        nav = '<nav class="mypt-nav"><div class="brand"><a href="index.html">mypt</a></div>' + ''.join(
            f'<a href="{f}"{" class=cur" if f == fname else ""}>{html.escape(t)}</a>' for _, f, t in pages) + '</nav>'
        body = body.replace('<body', NAV_CSS + '<body', 1)
        body = re.sub(r'(<body[^>]*>)', r'\1' + nav.replace('\\', r'\\') + '<div class="mypt-main">', body, count=1).replace('</body>', '</div></body>')
        body = re.sub(r'<title>.*?</title>', f'<title>{html.escape(title)} · mypt</title>', body, count=1, flags=re.S)
        (out/fname).write_text(body, encoding='utf-8')
        print(f'{p.name:<24} → {out/fname}  ({time.time() - t0:.1f} s)', flush=True)
    return failures

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', type=Path, default=ROOT/'_docs')
    ap.add_argument('--readme', action='store_true', help='only write README.md from nbs/index.ipynb')
    ap.add_argument('--timeout', type=int, default=900)
    ap.add_argument('--kernel', default='python3')
    a = ap.parse_args()
    print(f'README.md written from {NBS/"index.ipynb"}' if write_readme() else '')
    if a.readme: return 0
    failures = build_site(a.out, a.timeout, a.kernel)
    if failures:
        print('docs build failed:\n  ' + '\n  '.join(failures), file=sys.stderr); return 1
    print(f'site built in {a.out}; preview: python -m http.server -d {a.out} 8000')
    return 0

if __name__ == '__main__': sys.exit(main())
