"The docs site builds offline from the notebooks, and its pages render in headless Chromium."
import os, shutil, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT

def _chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        p = shutil.which(name)
        if p: return p
    return None

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('docs')/'_docs'
    r = subprocess.run([sys.executable, str(ROOT/'scripts'/'build_docs.py'), '--out', str(out)], capture_output=True, text=True, timeout=3000)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return out

def test_site_has_every_chapter_with_outputs(site):
    pages = {p.name for p in site.glob('*.html')}
    assert {'index.html', '00_tokens.html', '01_episodes.html', '02_prepare.html', '03_train.html', '04_eval.html'} <= pages
    ep = (site/'01_episodes.html').read_text()
    assert 'class="mypt-mask"' in ep and '#| export' not in ep       # mask view rendered, directives stripped
    assert '<img' in (site/'03_train.html').read_text()               # the loss plot
    assert '<table' in (site/'02_prepare.html').read_text()

def test_readme_is_generated_from_index(tmp_path):
    sys.path.insert(0, str(ROOT/'scripts'))
    from build_docs import write_readme
    fresh = write_readme(tmp_path/'README.md')                 # built beside, so the checkout is never touched
    assert (ROOT/'README.md').read_bytes() == fresh.read_bytes(), 'README.md is out of date: run python scripts/build_docs.py --readme'

def test_home_page_in_headless_chromium(site, tmp_path):
    exe = _chromium()
    if exe is None:
        if os.environ.get('MYPT_REQUIRE_CHROMIUM'): pytest.fail('chromium is required (MYPT_REQUIRE_CHROMIUM is set) but not installed')
        pytest.skip('chromium not installed (apt-get install chromium)')
    args = [exe, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', f'--user-data-dir={tmp_path/"profile"}', '--dump-dom']
    dom = subprocess.run(args + [(site/'index.html').as_uri()], capture_output=True, text=True, timeout=120).stdout
    for heading in ('mypt', 'Two commands', 'The stages', 'On a GPU server', 'Benchmarks'):
        assert f'>{heading}<' in dom or f'>{heading}<a' in dom or f'id="{heading.lower().replace(" ", "-")}"' in dom, heading
    dom = subprocess.run(args + [(site/'01_episodes.html').as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert 'mypt-mask' in dom and 'Episodes' in dom
