#!/usr/bin/env python
"""Build the docs site offline: the notebooks, executed, through nbdev's doc processors, rendered by mkdocs-material.

Each notebook is executed (nbclient), then nbdev's own processors run on it, as `nbdev_proc_nbs` would: an API
block (`show_doc`: signature, docstring, parameter table) for every exported name, exported source folded away,
hidden cells dropped. Each page becomes Markdown (outputs kept: tables, mask views, plots) and mkdocs-material
renders the site with navigation, on-page contents and search, every asset local. A build fails on a broken
link or anchor, and on a stderr box the prose before it does not introduce (a markdown cell that says
"stderr"). Users with Quarto can run `nbdev_docs` from the project's venv instead (settings.ini is set up).

    python scripts/build_docs.py            # _docs/index.html and one page per notebook
    python scripts/build_docs.py --readme   # README.md only (from nbs/index.ipynb)
    python -m http.server -d _docs 8000     # preview (search needs http://, not file://)
"""
import argparse, base64, contextlib, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path
import nbformat

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
DIRECTIVE = re.compile(r'^\s*#\|\s*(.*)$')
MARKER = '.mypt-docs'      # marks a folder this script built, so a rebuild may replace it and nothing else
SITE_NAMES = [MARKER, '*.html', '*_files', 'assets', 'search', 'sitemap.xml', 'sitemap.xml.gz', 'stylesheets']
ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')

def notebooks(pattern:str='*'):
    "index first, then the chapters in name order."
    nbs = sorted(p for p in NBS.glob(f'{pattern}.ipynb') if not p.name.startswith('_'))
    return sorted(nbs, key=lambda p: (p.stem != 'index', p.stem))

def directives(cell):
    return [m.group(1).strip() for m in map(DIRECTIVE.match, cell.source.splitlines()) if m]

def strip_directives(nb):
    "Drop hidden cells and `#|` directive lines (for the README, which is the index page without outputs)."
    cells = []
    for c in nb.cells:
        if c.cell_type == 'code':
            ds = directives(c)
            if any(d.split()[0] in ('hide', 'default_exp') for d in ds if d): continue
            c.source = '\n'.join(l for l in c.source.splitlines() if not DIRECTIVE.match(l)).strip('\n')
            if not c.source and not c.get('outputs'): continue
        cells.append(c)
    nb.cells = cells
    return nb

def write_readme(out=ROOT/'README.md'):
    from nbconvert import MarkdownExporter
    nb = strip_directives(nbformat.read(NBS/'index.ipynb', as_version=4))
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs = []
    body, _ = MarkdownExporter().from_notebook_node(nb)
    body = re.sub(r'\]\(([\w.-]+\.ipynb)', r'](nbs/\1', body)       # chapters live in nbs/
    Path(out).write_text(body.strip() + '\n', encoding='utf-8')
    return Path(out)

# ---------------------------------------------------------------- execute, then nbdev's processors
def execute(path:Path, timeout:int, kernel:str):
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name=kernel, resources={'metadata': {'path': str(NBS)}}).execute()
    return nb

def unexplained_stderr(nb) -> list[str]:
    "Code cells with stderr output whose nearest markdown cell above does not mention stderr."
    found, prose = [], ''
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'markdown': prose = c.source
        elif c.cell_type == 'code':
            err = ''.join(o.get('text', '') for o in c.get('outputs', []) if o.get('output_type') == 'stream' and o.get('name') == 'stderr')
            if err and 'stderr' not in prose.lower(): found.append(f'cell {i}: {err.strip().splitlines()[0][:120]}')
    return found

@contextlib.contextmanager
def _cwd(path):
    old = os.getcwd(); os.chdir(path)
    try: yield
    finally: os.chdir(old)

def constant_blocks(source:str) -> list[str]:
    "An API block for each public module-level constant (an UPPER_CASE name) an export cell assigns: its definition."
    import ast
    lines = [l for l in source.splitlines() if not DIRECTIVE.match(l)]
    try: tree = ast.parse('\n'.join(lines))
    except SyntaxError: return []
    blocks = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for t in (e for tgt in targets for e in (tgt.elts if isinstance(tgt, ast.Tuple) else [tgt])):
            if isinstance(t, ast.Name) and re.fullmatch(r'[A-Z][A-Z0-9_]*', t.id):
                defn = lines[node.lineno - 1:node.end_lineno]
                code = '\n'.join(defn[:12] + (['...'] if len(defn) > 12 else []))
                blocks.append(f'---\n\n### {t.id}\n\n{_fence(code, "python")}')
    return blocks

def _doc_filter():
    "nbdev's `FilterDefaults`, with API blocks in the order the names are defined (nbdev inserts them reversed)."
    import nbdev.processors as P
    from execnb.nbio import mk_cell
    from fastcore.foundation import L
    class add_show_docs(P.add_show_docs):
        def begin(self):
            nb = self.nb
            exports = L(cell for cell in nb.cells if P._want_doc(cell))
            shown = {P._get_nm(t) for t in P._show_docs(L(nb.cells).map(P.NbCell.parsed_).concat())}
            for cell in reversed(exports):
                new = []
                for nm in P._def_names(cell, shown):
                    new.append(mk_cell(f'show_doc({nm})')); new[-1].has_sd = True
                new += [mk_cell(md, cell_type='markdown') for md in constant_blocks(cell.source)]
                for c in reversed(new): nb.cells.insert(cell.idx_ + 1, c)
            nb.has_docs_ = shown or exports
    class Filter(P.FilterDefaults):
        def base_procs(self): return [add_show_docs if p is P.add_show_docs else p for p in super().base_procs()]
    return Filter()

def nbdev_process(executed:Path):
    "Run nbdev's doc processors (what `nbdev_proc_nbs` runs) on an executed notebook."
    from execnb.nbio import read_nb
    with _cwd(NBS):
        nb = read_nb(executed)
        _doc_filter()(nb)
    return nb

# ---------------------------------------------------------------- Markdown pages
API_HEADING = re.compile(r'^(#{2,4}) ([A-Za-z_][\w.]*)\s*$', re.M)

def slug(text:str) -> str:
    from markdown.extensions.toc import slugify
    return slugify(text, '-')

def _src(x): return ''.join(x) if isinstance(x, list) else (x or '')

def _fence(text, lang='text'):
    text = ANSI.sub('', text).rstrip('\n')
    ticks = '````' if '```' in text else '```'
    return f'{ticks}{lang}\n{text}\n{ticks}'

def _indent(text, n=4): return '\n'.join((' ' * n + l) if l.strip() else '' for l in text.splitlines())

class Page:
    def __init__(self, path:Path, nb):
        self.stem, self.nb = path.stem, nb
        self.md = f'{path.stem}.md'
        self.files = {}                  # name -> bytes (images of outputs)
        raw = next((c for c in nb.cells if c.cell_type == 'raw' and _src(c.source).startswith('---')), None)
        import yaml
        self.front = yaml.safe_load(_src(raw.source).strip().strip('-')) if raw is not None else {}
        self.front = self.front or {}
        self.title = self.front.get('title') or path.stem
        self.api = {}                    # exported name -> anchor on this page
        for c in nb.cells:
            for o in c.get('outputs', []) if c.cell_type == 'code' else []:
                for _, name in API_HEADING.findall(_src(o.get('data', {}).get('text/markdown', ''))):
                    self.api.setdefault(name, slug(name))

    def render(self, links:dict) -> str:
        parts = [f'# {self.title}']
        if self.front.get('description'): parts.append('> ' + self.front['description'])
        for c in self.nb.cells:
            if c.cell_type == 'markdown': parts.append(self._markdown(_src(c.source), links))
            elif c.cell_type == 'code': parts.extend(self._code(c))
        return '\n\n'.join(p for p in parts if p.strip()) + '\n'

    def _markdown(self, text, links):
        text = re.sub(r'\]\((?!https?:)([\w.-]+)\.ipynb(#[^)]*)?\)', lambda m: f']({m.group(1)}.md{m.group(2) or ""})', text)
        return linkify(text, links, self.md)

    def _code(self, c):
        lines = _src(c.source).splitlines()
        ds = {}
        for l in lines:
            m = DIRECTIVE.match(l)
            if m and m.group(1):
                k, _, v = m.group(1).partition(':'); ds[k.strip()] = v.strip() or True
        if ds.get('include') == 'false': return []
        body = '\n'.join(l for l in lines if not DIRECTIVE.match(l)).strip('\n')
        out = []
        if body and ds.get('echo') != 'false':
            code = _fence(body, 'python')
            out.append(f'??? note "Source"\n\n{_indent(code)}' if 'code-fold' in ds else code)
        if ds.get('output') != 'false':
            for k, o in enumerate(c.get('outputs', [])): out.append(self._output(o, f'{len(self.files)}_{k}'))
        return out

    def _output(self, o, key):
        t = o.get('output_type')
        if t == 'stream':
            text = _src(o.get('text'))
            if o.get('name') == 'stderr': return f'!!! warning "stderr"\n\n{_indent(_fence(text))}'
            return _fence(text)
        if t == 'error':
            return f'!!! failure "{o.get("ename", "error")}"\n\n{_indent(_fence(chr(10).join(o.get("traceback", []))))}'
        d = o.get('data', {})
        if 'text/markdown' in d: return _src(d['text/markdown'])
        if 'text/html' in d:
            html = _src(d['text/html']).strip()
            html = re.sub(r'<script\b.*?</script>', '', html, flags=re.S)
            return f'<div class="nb-output" markdown="0">\n{html}\n</div>'
        for mime, ext in (('image/png', 'png'), ('image/jpeg', 'jpg'), ('image/svg+xml', 'svg')):
            if mime in d:
                name = f'{self.stem}_files/out_{key}.{ext}'
                self.files[name] = _src(d[mime]).encode() if ext == 'svg' else base64.b64decode(_src(d[mime]))
                return f'![output]({name})'
        if 'text/plain' in d: return _fence(_src(d['text/plain']))
        return ''

_BACKTICK = re.compile(r'(?<!\[)`([A-Za-z_][\w.]*)(\(\))?`(?!\]\()')

def linkify(text:str, links:dict, here:str) -> str:
    "Link `name` to its API block (outside code fences), as nbdev's add_links does for its own site."
    def sub(m):
        if m.group(1) not in links: return m.group(0)
        page, anchor = links[m.group(1)]
        return f'[`{m.group(1)}{m.group(2) or ""}`]({"" if page == here else page}#{anchor})'
    out, fence = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(('```', '~~~')): fence = not fence
        elif not fence and not line.startswith('    '): line = _BACKTICK.sub(sub, line)
        out.append(line)
    return '\n'.join(out)

EXTRA_CSS = """.md-typeset .nb-output{overflow-x:auto;margin:0 0 1em}
.md-typeset .nb-output table{font-size:.75rem}
.md-typeset hr + h3, .md-typeset hr + h4{margin-top:.4em}
"""

def mkdocs_config(pages, docs_dir:Path, site_dir:Path) -> dict:
    return {
        'site_name': 'mypt', 'site_description': 'From hand-written chat episodes to a fine-tuned GPT.',
        'docs_dir': str(docs_dir), 'site_dir': str(site_dir), 'use_directory_urls': False, 'strict': True,
        'theme': {'name': 'material', 'font': False,            # no Google Fonts: the site works offline
                  'features': ['navigation.top', 'toc.follow', 'search.highlight', 'content.code.copy'],
                  'palette': {'primary': 'blue grey'}},
        'plugins': ['search'],
        'extra_css': ['stylesheets/mypt.css'],
        'markdown_extensions': [{'toc': {'permalink': True}}, 'tables', 'admonition', 'attr_list', 'md_in_html',
                                'pymdownx.details', 'pymdownx.superfences', {'pymdownx.highlight': {'use_pygments': True}}],
        'nav': [{p.title: p.md} for p in pages],
        'validation': {'omitted_files': 'warn', 'absolute_links': 'warn', 'unrecognized_links': 'warn',
                       'anchors': 'warn'},
    }

def build_site(out:Path, timeout:int, kernel:str, only:str='*') -> list[str]:
    "Build the site into `out` (replaced only if it is an earlier build); return what failed."
    import yaml
    sys.path.insert(0, str(ROOT))
    from mypt.core import InputError, atomic_dir, check_replaceable
    try: check_replaceable(out, 'docs site', MARKER, SITE_NAMES)
    except InputError as e: return [str(e)]
    failures, pages = [], []
    work = Path(tempfile.mkdtemp(prefix='mypt-docs-'))
    try:
        for p in notebooks(only):
            t0 = time.time()
            try: nb = execute(p, timeout, kernel)
            except Exception as e:                       # keep going, report all failures at the end
                msg = str(e).strip()
                failures.append(f'{p.name}: {type(e).__name__}: {msg.splitlines()[-1] if msg else ""}'); continue
            failures += [f'{p.name}: {m} (stderr the prose does not introduce)' for m in unexplained_stderr(nb)]
            nbformat.write(nb, work/p.name)
            pages.append(Page(p, nbdev_process(work/p.name)))
            print(f'{p.name:<24} executed and processed ({time.time() - t0:.1f} s)', flush=True)
        if failures: return failures
        links = {name: (pg.md, anchor) for pg in reversed(pages) for name, anchor in pg.api.items()}
        docs = work/'docs'; (docs/'stylesheets').mkdir(parents=True)
        (docs/'stylesheets'/'mypt.css').write_text(EXTRA_CSS)
        for pg in pages:
            text = pg.render(links)
            (docs/pg.md).write_text(text, encoding='utf-8')
            for name, data in pg.files.items():
                (docs/name).parent.mkdir(exist_ok=True); (docs/name).write_bytes(data)
        with atomic_dir(out) as tmp:
            cfg = work/'mkdocs.yml'
            cfg.write_text(yaml.safe_dump(mkdocs_config(pages, docs, tmp), sort_keys=False, allow_unicode=True))
            r = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '-q', '-f', str(cfg)], capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError('mkdocs build failed:\n' + (r.stdout + r.stderr).strip())
            for page in tmp.glob('*.html'):               # the logo links '.', which file:// shows as a listing
                page.write_text(page.read_text(encoding='utf-8').replace('href="."', 'href="index.html"'), encoding='utf-8')
            (tmp/MARKER).write_text('built by scripts/build_docs.py; a rebuild replaces this folder\n')
    except RuntimeError as e: failures.append(str(e))
    finally: shutil.rmtree(work, ignore_errors=True)
    return failures

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', type=Path, default=ROOT/'_docs')
    ap.add_argument('--readme', action='store_true', help='only write README.md from nbs/index.ipynb')
    ap.add_argument('--timeout', type=int, default=900)
    ap.add_argument('--kernel', default='python3')
    ap.add_argument('--only', default='*', help='build only the notebooks matching this glob (a quick preview)')
    a = ap.parse_args()
    print(f'README.md written from {NBS/"index.ipynb"}' if write_readme() else '')
    if a.readme: return 0
    failures = build_site(a.out, a.timeout, a.kernel, a.only)
    if failures:
        print('docs build failed:\n  ' + '\n  '.join(failures), file=sys.stderr); return 1
    print(f'site built in {a.out}; preview: python -m http.server -d {a.out} 8000')
    return 0

if __name__ == '__main__': sys.exit(main())
