"The bundled tiny base (issue 17): it loads, matches its model card, and its recipe runs on CPU."
import hashlib, json, os, re, subprocess, sys
from pathlib import Path
import torch
from conftest import ROOT, BIN, run_mypt
from mypt.checkpoint import load_model
from mypt.train import load_config

BASE = ROOT/'data'/'base'/'tiny_base'
CONFIG = ROOT/'configs'/'base'/'tiny_base.json'

def test_base_loads_and_matches_its_config():
    m = load_model(BASE)
    mc, _, _ = load_config(CONFIG)
    assert m.config.to_dict() == {**mc.to_dict()}
    assert all(torch.isfinite(p).all() for p in m.parameters())
    assert (BASE/'model.safetensors').stat().st_size <= 40 * 2**20

def test_card_sha256_matches_the_weights():
    card = (BASE/'README.md').read_text()
    want = re.search(r'sha256 of `model.safetensors`: `([0-9a-f]{64})`', card).group(1)
    assert hashlib.sha256((BASE/'model.safetensors').read_bytes()).hexdigest() == want
    for needle in ('Corpus', 'licence', 'corpus sha256', 'scripts/pretrain_base.sh', 'val loss'):
        assert needle.lower() in card.lower(), needle

def test_demo_config_fine_tunes_the_base(tmp_path):
    "The demo's SFT config has the base's architecture, so --init_from_model accepts it."
    from mypt.checkpoint import check_arch
    mc, _, _ = load_config(ROOT/'configs'/'cpu'/'demo_sft.json')
    check_arch(load_model(BASE).config, mc, BASE)

def test_compared_base_differs_only_in_depth():
    "configs/base/tiny_base_8l.json (the README's demo-by-base comparison) is the shipped recipe with two more layers."
    cfgs = {p.stem: json.loads(p.read_text()) for p in CONFIG.parent.glob('*.json')}
    assert {'tiny_base', 'tiny_base_8l'} <= set(cfgs)
    base, deep = ({k: v for k, v in c.items() if k not in ('name', 'description')} for c in (cfgs['tiny_base'], cfgs['tiny_base_8l']))
    assert {k for k in base if base[k] != deep.get(k)} == {'n_layer'} and set(base) == set(deep)
    assert (base['n_layer'], deep['n_layer']) == (6, 8)
    load_config(CONFIG.parent/'tiny_base_8l.json')   # a valid config

def test_recipe_trains_and_ships_a_few_steps(tmp_path):
    "The recipe's steps after the corpus download: prepare-text, train with the base config, finish_base (cast + card)."
    corpus = tmp_path/'corpus'; corpus.mkdir()
    for p in ROOT.glob('nbs/*.ipynb'): (corpus/f'{p.stem}.md').write_text(p.read_text()[:40000])
    run_mypt('prepare-text', '--input', corpus, '--output_dir', tmp_path/'text', '--val_split', '0.2', '--seed', '3301', check=0)
    cfg = {**json.loads(CONFIG.read_text()), 'max_iters': 2, 'eval_interval': 2, 'eval_iters': 1, 'warmup_iters': 1, 'log_interval': 1}
    (tmp_path/'cfg.json').write_text(json.dumps(cfg))
    run_mypt('train', '--model_name', 'b', '--config_file', tmp_path/'cfg.json', '--dataset_dir', tmp_path/'text',
             '--out_dir', tmp_path/'ck', env={'OMP_NUM_THREADS': '2'}, check=0)
    (tmp_path/'corpus.log').write_text('corpus sha256: ' + '0' * 64 + '\n')
    r = subprocess.run([sys.executable, str(ROOT/'scripts'/'finish_base.py'), '--checkpoint', str(tmp_path/'ck'/'b'),
                        '--dataset_dir', str(tmp_path/'text'), '--corpus_log', str(tmp_path/'corpus.log'), '--config', str(tmp_path/'cfg.json'),
                        '--train_seconds', '5', '--out', str(tmp_path/'shipped')], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    shipped = load_model(tmp_path/'shipped')
    assert shipped.config.n_layer == cfg['n_layer']
    card = (tmp_path/'shipped'/'README.md').read_text()
    assert hashlib.sha256((tmp_path/'shipped'/'model.safetensors').read_bytes()).hexdigest() in card

def test_manpage_text_renders_the_man_macros():
    "The German manual pages of the corpus: headings, joined paragraphs, option lists, literal blocks, troff escapes."
    sys.path.insert(0, str(ROOT/'scripts'))
    from build_base_corpus import manpage_text
    raw = '\n'.join([r'.\" a comment', r'.TH LS 1 "September 2022" "GNU coreutils 9.1" "Dienstprogramme"',
                     r'.SH BEZEICHNUNG', r'ls \- Verzeichnisinhalte auflisten', r'.SH BESCHREIBUNG', r'.PP',
                     r'Auflistung von \fBInformationen\fP \(em über die', r'DATEIen (\fI\,DATEI\/\fR).', r'.TP ',
                     r'\fB\-a\fP, \fB\-\-all\fP', r'Einträge nicht ignorieren', r'.SS Beispiel', r'.nf',
                     r'$ ls \-la \e', r'  /tmp', r'.fi', r'.BR ls (1)', ''])
    assert manpage_text(raw) == ('# LS(1)\n\n## BEZEICHNUNG\n\nls - Verzeichnisinhalte auflisten\n\n## BESCHREIBUNG\n\n'
                                 'Auflistung von Informationen — über die DATEIen (DATEI).\n\n- -a, --all Einträge nicht ignorieren\n\n'
                                 '### Beispiel\n\n```\n$ ls -la \\\n  /tmp\n```\n\nls(1)\n')
