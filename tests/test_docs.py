"The docs site builds offline from the notebooks: API blocks for every exported name, no broken link, no remote asset."
import functools, http.server, json, os, re, shutil, subprocess, sys, threading, time, urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT/'scripts'))
import build_docs

def _chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        p = shutil.which(name)
        if p: return p
    return None

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('docs')/'_docs'
    r = subprocess.run([sys.executable, str(ROOT/'scripts'/'build_docs.py'), '--out', str(out)], capture_output=True, text=True,
                       timeout=3000, env={**os.environ, 'PATH': f'{Path(sys.executable).parent}{os.pathsep}{os.environ["PATH"]}'})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return out

class _Page(HTMLParser):
    "The ids of a page, and every link and asset it refers to."
    def __init__(self):
        super().__init__(); self.ids, self.refs, self.assets = set(), [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        if tag == 'a' and a.get('name'): self.ids.add(a['name'])
        for k in ('href', 'src'):
            if a.get(k): self.refs.append(a[k])
        if tag in ('script', 'img', 'iframe') and a.get('src'): self.assets.append(a['src'])
        if tag == 'link' and a.get('href') and 'stylesheet' in (a.get('rel') or '') + ' icon': self.assets.append(a['href'])

def _parse(path:Path) -> _Page:
    p = _Page(); p.feed(path.read_text(encoding='utf-8')); return p

def _pages(site): return sorted(p for p in site.glob('*.html') if p.name != '404.html')   # 404.html is served from the root

def test_site_has_every_chapter_with_outputs(site):
    want = {('index' if p.stem == 'index' else p.stem) + '.html' for p in build_docs.notebooks()}
    assert want <= {p.name for p in site.glob('*.html')} and len(want) >= 19
    ep = (site/'01_episodes.html').read_text()
    assert 'class="mypt-mask"' in ep and 'class="mypt-legend"' in ep and '#|' not in ep   # mask view with its key
    assert 'a static view; run the notebook' in ep                                         # the explorer's stand-in
    assert '<img' in (site/'03_train.html').read_text()                                    # the loss plot
    assert '<table' in (site/'02_prepare.html').read_text()
    assert (site/'search'/'search_index.json').is_file()

def _exported(module:Path) -> list[str]:
    m = re.search(r'__all__\s*=\s*\[(.*?)\]', module.read_text(), re.S)
    return re.findall(r"'([^']+)'", m.group(1)) if m else []

def _notebook_of(module:Path) -> str:
    m = re.search(r'File to edit: \.\./nbs/([\w.-]+)\.ipynb', module.read_text())
    return m.group(1)

def test_every_exported_name_has_an_api_block(site):
    modules = [p for p in sorted((ROOT/'mypt').glob('*.py')) if not p.name.startswith('_') and _exported(p)]
    assert len(modules) >= 15
    missing = []
    for m in modules:
        page = site/f'{_notebook_of(m)}.html'
        html = page.read_text(encoding='utf-8')
        ids = _parse(page).ids
        for name in _exported(m):
            if build_docs.slug(name) not in ids or f'>{name}<' not in html: missing.append(f'{m.stem}.{name} ({page.name})')
    assert not missing, f'{len(missing)} exported names without an API block: {missing[:20]}'
    assert 'show_doc(' not in (site/'01e_formats.html').read_text()     # rendered, not shown as code

def test_no_broken_link_or_anchor(site):
    parsed = {p: _parse(p) for p in _pages(site)}
    ids = {p.resolve(): v.ids for p, v in parsed.items()}
    broken, checked = [], 0
    for page, v in parsed.items():
        for ref in v.refs:
            u = urlsplit(ref)
            if u.scheme or ref.startswith(('//', 'mailto:', 'data:', 'javascript:')): continue
            target = (page.parent/unquote(u.path)).resolve() if u.path else page.resolve()
            checked += 1
            if target.is_dir(): target = target/'index.html'
            if not target.exists(): broken.append(f'{page.name}: {ref} (no such file)'); continue
            if u.fragment and target.suffix == '.html':
                if target not in ids: ids[target] = _parse(target).ids
                if unquote(u.fragment) not in ids[target]: broken.append(f'{page.name}: {ref} (no such anchor)')
    assert checked > 1000, checked
    assert not broken, f'{len(broken)} broken links: {broken[:20]}'

def test_no_remote_assets(site):
    remote = [f'{p.name}: {a}' for p in _pages(site) for a in _parse(p).assets if urlsplit(a).scheme or a.startswith('//')]
    assert not remote, remote[:10]
    css = ''.join(p.read_text(errors='replace') for p in (site/'assets').rglob('*.css'))
    assert 'fonts.googleapis' not in ''.join(p.read_text() for p in _pages(site)) and '@import url(http' not in css

def test_unexplained_stderr_is_found():
    import nbformat
    v4 = nbformat.v4
    stderr = v4.new_output('stream', name='stderr', text='warning: something\n')
    nb = v4.new_notebook(cells=[v4.new_markdown_cell('Run it:'), v4.new_code_cell('f()', outputs=[stderr]),
                                v4.new_markdown_cell('The warning below, on stderr, is expected.'), v4.new_code_cell('g()', outputs=[stderr])])
    assert build_docs.unexplained_stderr(nb) == ['cell 1: warning: something']

def test_refuses_to_replace_a_folder_it_did_not_build(tmp_path):
    (tmp_path/'notes.txt').write_text('mine')
    failures = build_docs.build_site(tmp_path, timeout=60, kernel='python3')
    assert len(failures) == 1 and 'refusing to replace it' in failures[0] and (tmp_path/'notes.txt').read_text() == 'mine'

def test_readme_is_generated_from_index(tmp_path):
    fresh = build_docs.write_readme(tmp_path/'README.md')      # built beside, so the checkout is never touched
    assert (ROOT/'README.md').read_bytes() == fresh.read_bytes(), 'README.md is out of date: run python scripts/build_docs.py --readme'

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass

@pytest.fixture(scope='module')
def served(site):
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_address[1]}'
    srv.shutdown()

class Browser:
    "Headless Chromium driven over the DevTools protocol: open a page, then ask it questions in JavaScript."
    def __init__(self, exe, profile:Path):
        import websocket                                  # websocket-client (dev extra)
        self.proc = subprocess.Popen([exe, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
                                      '--disable-background-networking', '--disable-component-update', '--disable-sync',
                                      '--remote-debugging-port=0', f'--user-data-dir={profile}', 'about:blank'],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile/'DevToolsActivePort'
        for _ in range(600):
            if port_file.exists() and port_file.read_text().strip(): break
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        pages = json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=30))
        self.ws = websocket.create_connection(next(p for p in pages if p['type'] == 'page')['webSocketDebuggerUrl'], timeout=60)
        self.n, self.errors = 0, []
        self.call('Runtime.enable')
    def call(self, method, **params):
        self.n += 1; self.ws.send(json.dumps({'id': self.n, 'method': method, 'params': params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get('method') == 'Runtime.exceptionThrown': self.errors.append(msg['params']['exceptionDetails'].get('text'))
            if msg.get('id') == self.n: return msg.get('result', {})
    def eval(self, js):
        return self.call('Runtime.evaluate', expression=js, returnByValue=True).get('result', {}).get('value')
    def wait(self, js, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            v = self.eval(js)
            if v: return v
            time.sleep(0.1)
        return None
    def open(self, url):
        self.call('Page.navigate', url=url)
        return self.wait('document.readyState === "complete" && location.href !== "about:blank"')
    def close(self): self.ws.close(); self.proc.kill(); self.proc.wait()

@pytest.fixture
def browser(tmp_path):
    exe = _chromium()
    if exe is None:
        if os.environ.get('MYPT_REQUIRE_CHROMIUM'): pytest.fail('chromium is required (MYPT_REQUIRE_CHROMIUM is set) but not installed')
        pytest.skip('chromium not installed (apt-get install chromium)')
    b = Browser(exe, tmp_path/'profile')
    yield b
    b.close()

def test_pages_in_headless_chromium(served, browser):
    b = browser
    b.open(f'{served}/index.html')
    ids = b.eval('[...document.querySelectorAll("h2[id]")].map(h => h.id)')
    assert {'two-commands', 'the-stages', 'docs'} <= set(ids), ids
    chapters = b.eval('[...document.querySelectorAll(".md-sidebar--primary .md-nav__link")].map(a => a.textContent.trim())')
    assert {'Episodes', 'Prepare', 'Train', 'Evaluate'} <= set(chapters), chapters     # navigation
    b.open(f'{served}/01_episodes.html')
    assert b.eval('document.querySelectorAll(".mypt-mask").length') >= 2                      # mask views rendered
    assert b.eval('document.querySelector(".md-sidebar--secondary a[href=\'#encode_episode\']") !== null')   # on-page contents
    b.open(f'{served}/01_episodes.html?q=encode_episode')                                     # full-text search
    hits = b.wait('[...document.querySelectorAll(".md-search-result__item a")].map(a => a.getAttribute("href"))')
    assert hits and any('encode_episode' in h for h in hits), hits
    b.open(f'{served}/01e_formats.html')                                                      # a cross-chapter API link works
    href = b.eval('document.querySelector("a[href^=\'01_episodes.html#check_episode\']").href')
    b.open(href)
    assert b.wait('document.getElementById("check_episode") !== null') and b.eval('document.title').startswith('Episodes')
    assert not b.errors, b.errors
