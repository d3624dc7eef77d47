"Never destroy what the user has: each ordinary mistake is refused with one line (exit 2), or done right."
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import ROOT, BIN, run_mypt
from safetensors.torch import load_file

GOLD = ROOT/'data'/'sample'/'gold_en.jsonl'
TINY = json.loads((ROOT/'configs'/'cpu'/'tiny_test.json').read_text())

def tree(d):
    "Relative path -> bytes of every file under d (links followed)."
    d = Path(d)
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob('*')) if p.is_file()}

def refused(r, *words):
    "Exit 2, one line on stderr, no traceback, and the line says `words`."
    assert r.returncode == 2, f'exit {r.returncode}\n{r.stdout}\n{r.stderr}'
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in r.stderr, r.stderr
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]

def small_gold(d:Path) -> Path:
    "The first 40 bundled episodes, as a user's own file."
    d.mkdir(parents=True, exist_ok=True)
    g = d/'gold.jsonl'; g.write_text(''.join(GOLD.read_text().splitlines(True)[:40])); return g

@pytest.fixture(scope='module')
def work(tmp_path_factory):
    "A dataset, a tiny config and a trained checkpoint, shared by the training cases."
    root = tmp_path_factory.mktemp('safe')
    g = small_gold(root/'in')
    run_mypt('prepare', '--input', g, '--output_dir', root/'ds', '--val_split', '0.2', check=0)
    cfg = root/'tiny.json'; cfg.write_text(json.dumps({**TINY, 'max_iters': 2, 'eval_interval': 2, 'eval_iters': 1}))
    run_mypt('train', '--model_name', 'm', '--config_file', cfg, '--dataset_dir', root/'ds', '--out_dir', root/'ck', check=0)
    return root

def train(work, out_dir, name, *extra, cfg=None):
    return run_mypt('train', '--model_name', name, '--config_file', cfg or work/'tiny.json', '--dataset_dir', work/'ds',
                    '--out_dir', out_dir, *extra)

# 1. an output folder that holds the input, other files, or is an input dataset

def test_prepare_into_the_folder_of_its_input(tmp_path):
    g = small_gold(tmp_path/'ds'); (tmp_path/'ds'/'NOTES.txt').write_text('mine')
    before = tree(tmp_path/'ds')
    refused(run_mypt('prepare', '--input', g, '--output_dir', tmp_path/'ds'), 'contains the input --input')
    assert tree(tmp_path/'ds') == before

def test_prepare_over_a_folder_with_other_files(tmp_path):
    g = small_gold(tmp_path/'in'); out = tmp_path/'out'; out.mkdir(); (out/'NOTES.txt').write_text('mine')
    refused(run_mypt('prepare', '--input', g, '--output_dir', out), 'is not a prepared dataset', 'NOTES.txt')
    run_mypt('prepare', '--input', g, '--output_dir', tmp_path/'ds', check=0)
    (tmp_path/'ds'/'NOTES.txt').write_text('mine'); before = tree(tmp_path/'ds')
    refused(run_mypt('prepare', '--input', g, '--output_dir', tmp_path/'ds'), 'not part of a prepared dataset: NOTES.txt')
    assert tree(tmp_path/'ds') == before
    (tmp_path/'ds'/'NOTES.txt').unlink()
    run_mypt('prepare', '--input', g, '--output_dir', tmp_path/'ds', check=0)   # a dataset alone is replaced

@pytest.mark.parametrize('which', ['--sft_dir', '--general_dir'])
def test_mix_over_its_own_input(tmp_path, which):
    g = small_gold(tmp_path/'in'); txt = tmp_path/'in'/'doc.txt'; txt.write_text('Plain text for the stream. ' * 400)
    run_mypt('prepare', '--input', g, '--output_dir', tmp_path/'sft', check=0)
    run_mypt('prepare-text', '--input', txt, '--output_dir', tmp_path/'gen', check=0)
    target = tmp_path/('sft' if which == '--sft_dir' else 'gen'); before = tree(target)
    refused(run_mypt('mix', '--sft_dir', tmp_path/'sft', '--general_dir', tmp_path/'gen', '--output_dir', target),
            f'is the input {which}')
    assert tree(target) == before
    refused(run_mypt('mix', '--sft_dir', tmp_path/'sft', '--general_dir', tmp_path/'gen', '--output_dir', target/'mixed'),
            f'lies inside the input {which}')

# 2. a model name that is a path, and an export over its own checkpoint

@pytest.mark.parametrize('name', ['.', '..', 'a/b'])
def test_model_name_must_be_a_plain_name(work, name):
    before = tree(work/'ck')
    refused(train(work, work/'ck', name), 'model_name', 'plain name')
    assert tree(work/'ck') == before

def test_absolute_model_name_is_refused(work, tmp_path):
    thesis = tmp_path/'thesis'; thesis.mkdir(); (thesis/'chapter1.tex').write_text('years of work')
    refused(train(work, work/'ck', str(thesis)), 'plain name')
    assert (thesis/'chapter1.tex').read_text() == 'years of work'

def test_export_over_the_checkpoint_folder(work):
    before = tree(work/'ck')
    refused(run_mypt('export-hf', '--model', work/'ck'/'m', '--output_dir', work/'ck'), 'contains the input --model')
    refused(run_mypt('export-hf', '--model', work/'ck'/'m', '--output_dir', work/'ck'/'m'), 'is the input --model')
    assert tree(work/'ck') == before

def test_export_over_other_files(work, tmp_path):
    out = tmp_path/'hf'; out.mkdir(); (out/'config.json').write_text('{}'); (out/'notes.md').write_text('mine')
    refused(run_mypt('export-hf', '--model', work/'ck'/'m', '--output_dir', out), 'not part of a Hugging Face export: notes.md')
    (out/'notes.md').unlink()
    run_mypt('export-hf', '--model', work/'ck'/'m', '--output_dir', out, check=0)
    run_mypt('export-hf', '--model', work/'ck'/'m', '--output_dir', out, check=0)   # its own export is replaced

# 3. training again over a trained checkpoint

def test_retrain_without_resume_is_refused(work):
    before = tree(work/'ck')
    refused(train(work, work/'ck', 'm'), 'holds a trained checkpoint', '--resume', '--overwrite')
    assert tree(work/'ck') == before

def test_overwrite_replaces_and_resume_continues(work, tmp_path):
    shutil.copytree(work/'ck', tmp_path/'ck')
    cfg = tmp_path/'four.json'; cfg.write_text(json.dumps({**TINY, 'max_iters': 4, 'eval_interval': 2, 'eval_iters': 1}))
    r = train(work, tmp_path/'ck', 'm', '--resume', cfg=cfg)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/'ck'/'m'/'train_state.json').read_text())['step'] == 4
    r = train(work, tmp_path/'ck', 'm', '--resume', '--overwrite')      # a usage error: argparse's usage + one line
    assert r.returncode == 2 and 'give one of them' in r.stderr.strip().splitlines()[-1], r.stderr
    assert train(work, tmp_path/'ck', 'm', '--overwrite').returncode == 0
    assert json.loads((tmp_path/'ck'/'m'/'train_state.json').read_text())['step'] == 2

def test_checkpoint_folder_with_other_files(work, tmp_path):
    (tmp_path/'m').mkdir(); (tmp_path/'m'/'results.csv').write_text('mine')
    refused(train(work, tmp_path, 'm', '--overwrite'), 'is not a mypt checkpoint')
    assert (tmp_path/'m'/'results.csv').read_text() == 'mine'

# 4. best/ survives a later, worse checkpoint, and train_state.json tells the truth about it

def test_best_survives_a_worse_evaluation(work, tmp_path):
    cfg = tmp_path/'wild.json'
    cfg.write_text(json.dumps({**TINY, 'learning_rate': 1.0, 'grad_clip': 0.0, 'max_iters': 4, 'eval_interval': 2,
                               'eval_iters': 1, 'warmup_iters': 0, 'dropout': 0.0}))
    assert train(work, tmp_path, 'm', cfg=cfg).returncode == 0
    ck = tmp_path/'m'
    evals = [json.loads(l) for l in (ck/'metrics.jsonl').read_text().splitlines() if json.loads(l).get('kind') == 'eval']
    vals = [e['val_loss'] for e in evals]
    assert min(vals) < vals[-1], f'the run did not get worse, the case is not exercised: {vals}'
    state = json.loads((ck/'train_state.json').read_text())
    best = json.loads((ck/'best'/'config.json').read_text())
    assert (ck/'best'/'model.safetensors').is_file()
    assert state['best_val'] == min(vals) == best['val_loss']
    assert best['step'] == evals[vals.index(min(vals))]['step']
    w_best, w_last = load_file(str(ck/'best'/'model.safetensors')), load_file(str(ck/'model.safetensors'))
    assert any(not (w_best[k] == w_last[k]).all() for k in w_last)

# 5. single-file outputs that name the input

@pytest.mark.parametrize('cmd', ['validate', 'diversity', 'recombine', 'merge', 'diversify'])
def test_file_output_over_input(tmp_path, cmd):
    g = small_gold(tmp_path); before = g.read_bytes()
    args = {'validate': ('validate', '--input', g, '--html', g),
            'diversity': ('diversity', '--input', g, '--json', g),
            'recombine': ('recombine', '--original', g, '--output', g),
            'merge': ('merge', '--english', g, '--german', g, '--output', g),
            'diversify': ('diversify', '--input', g, '--rewrites', tmp_path/'rw.json', '--output', g)}[cmd]
    refused(run_mypt(*args), 'is the input', str(g))
    assert g.read_bytes() == before

def test_extract_output_over_its_input(tmp_path):
    g = tmp_path/'user_messages_en.txt'; g.write_bytes(small_gold(tmp_path/'x').read_bytes()); before = g.read_bytes()
    refused(run_mypt('extract', '--input', g, '--output_dir', tmp_path), 'is the input --input')
    assert g.read_bytes() == before

def test_evaluate_report_inside_the_checkpoint(work):
    before = tree(work/'ck')
    refused(run_mypt('evaluate', '--model', work/'ck'/'m', '--out_dir', work/'ck'/'m'/'report'), 'lies inside the input --model')
    assert tree(work/'ck') == before

# 6. a symlinked output folder: its target is replaced, the link stays

def test_symlinked_output_dir(tmp_path):
    g = small_gold(tmp_path/'in')
    real = tmp_path/'store'/'ds'; real.parent.mkdir(); link = tmp_path/'ds'; link.symlink_to(real, target_is_directory=True)
    run_mypt('prepare', '--input', g, '--output_dir', link, check=0)
    assert link.is_symlink() and (real/'dataset_metadata.json').is_file()
    run_mypt('prepare', '--input', g, '--output_dir', link, '--val_split', '0.3', check=0)
    assert link.is_symlink() and json.loads((real/'dataset_metadata.json').read_text())['val_split'] == 0.3
    assert sorted(p.name for p in tmp_path.iterdir()) == ['ds', 'in', 'store']      # nothing moved aside
    assert sorted(p.name for p in real.parent.iterdir()) == ['ds']

# 7. leftovers of killed runs are removed by the next run on that output

def test_killed_run_leftovers_are_cleaned(work, tmp_path):
    shutil.copytree(work/'ck'/'m', tmp_path/'m')
    cfg = tmp_path/'long.json'; cfg.write_text(json.dumps({**TINY, 'max_iters': 100000, 'eval_interval': 1, 'eval_iters': 1}))
    p = subprocess.Popen([str(BIN/'mypt'), 'train', '--model_name', 'm', '--config_file', cfg, '--dataset_dir', work/'ds',
                          '--out_dir', tmp_path, '--overwrite'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=dict(os.environ, PYTHONUNBUFFERED='1'))
    deadline = time.time() + 300
    while time.time() < deadline and not any(x.name.endswith('.tmp') for x in tmp_path.iterdir()): time.sleep(0.005)
    p.send_signal(signal.SIGKILL); p.wait()
    left = [x.name for x in tmp_path.iterdir() if x.name.startswith('.')]
    assert any(n.endswith('.tmp') for n in left), f'the kill did not catch a checkpoint being written: {left}'
    # a live writer's temporary of the same target is left alone
    live = tmp_path/f'.m.{os.getpid()}.abcdefgh.tmp'; live.mkdir()
    assert train(work, tmp_path, 'm', '--overwrite').returncode == 0
    assert sorted(x.name for x in tmp_path.iterdir()) == sorted(['long.json', 'm', live.name])

# 8. every file of an artefact follows the umask

def test_checkpoint_files_follow_the_umask(work, tmp_path):
    for umask in (0o022, 0o002):
        out = tmp_path/f'u{umask:o}'
        r = subprocess.run([sys.executable, '-c', f'import os, sys; os.umask({umask}); from mypt.cli import main; sys.exit(main(sys.argv[1:]))',
                            'train', '--model_name', 'm', '--config_file', work/'tiny.json', '--dataset_dir', work/'ds',
                            '--out_dir', out], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        modes = {p.relative_to(out/'m').as_posix(): p.stat().st_mode & 0o777 for p in (out/'m').rglob('*')}
        want = {True: 0o777 & ~umask, False: 0o666 & ~umask}
        assert {k: m for k, m in modes.items() if m != want[(out/'m'/k).is_dir()]} == {}, modes
        assert 'model.safetensors' in modes and 'train_state.safetensors' in modes and 'best/model.safetensors' in modes
