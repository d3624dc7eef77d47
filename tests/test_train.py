"Trainer: masked loss, determinism, epochs, SIGKILL + resume, torchrun DDP, config errors."
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import numpy as np, pytest, torch
from conftest import ROOT, BIN, run_mypt
from safetensors.torch import load_file

TINY = ROOT/'configs'/'cpu'/'tiny_test.json'

@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp('ds')/'prepared'
    run_mypt('prepare', '--input', ROOT/'data'/'sample'/'gold_en.jsonl', '--output_dir', d, '--val_split', '0.1', check=0)
    return d

def _cfg(tmp_path, **kw):
    cfg = json.loads(TINY.read_text()); cfg.update(kw)
    p = tmp_path/f'cfg_{abs(hash(json.dumps(kw, sort_keys=True)))}.json'; p.write_text(json.dumps(cfg)); return p

def _evals(ck):
    return [json.loads(l) for l in (Path(ck)/'metrics.jsonl').read_text().splitlines() if '"eval"' in l]

def test_two_runs_identical_losses_and_weights(dataset, tmp_path):
    cfg = _cfg(tmp_path)
    for name in ('a', 'b'):
        r = run_mypt('train', '--model_name', name, '--config_file', cfg, '--dataset_dir', dataset, '--out_dir', tmp_path/'ck', check=0)
    assert 'Loaded episode-indexed dataset' in r.stdout and 'Epoch seed: 3301' in r.stdout
    ea, eb = _evals(tmp_path/'ck'/'a'), _evals(tmp_path/'ck'/'b')
    assert [e['val_loss'] for e in ea] == [e['val_loss'] for e in eb] and len(ea) == 4
    wa, wb = load_file(str(tmp_path/'ck'/'a'/'model.safetensors')), load_file(str(tmp_path/'ck'/'b'/'model.safetensors'))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (tmp_path/'ck'/'a'/'best'/'model.safetensors').exists()

def test_training_lowers_val_loss(dataset, tmp_path):
    cfg = _cfg(tmp_path, max_iters=40, eval_interval=20, n_embd=64, n_head=4, batch_sampling_mode='packed', dropout=0.0, learning_rate=3e-3)
    run_mypt('train', '--model_name', 'm', '--config_file', cfg, '--dataset_dir', dataset, '--out_dir', tmp_path, check=0)
    ev = _evals(tmp_path/'m')
    assert ev[-1]['val_loss'] < ev[0]['val_loss'] - 2.0, ev

def _weights(ck):
    return load_file(str(Path(ck)/'model.safetensors'))

def test_sigkill_then_resume_matches_uninterrupted(dataset, tmp_path):
    cfg = _cfg(tmp_path, max_iters=60, eval_interval=4, dropout=0.1)
    run_mypt('train', '--model_name', 'full', '--config_file', cfg, '--dataset_dir', dataset, '--out_dir', tmp_path, check=0)
    args = [str(BIN/'mypt'), 'train', '--model_name', 'cut', '--config_file', str(cfg), '--dataset_dir', str(dataset), '--out_dir', str(tmp_path)]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    st = tmp_path/'cut'/'train_state.json'
    t0 = time.time()
    while time.time() - t0 < 120:
        if st.exists():
            try:
                if json.loads(st.read_text())['step'] >= 8: break
            except (json.JSONDecodeError, KeyError): pass
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL); p.wait()
    step = json.loads(st.read_text())['step']
    assert 8 <= step < 60, step                 # killed in the middle
    assert {'model.safetensors', 'train_state.safetensors', 'train_state.json'} <= {p.name for p in (tmp_path/'cut').iterdir()}   # the last checkpoint is whole
    r = run_mypt('train', '--model_name', 'cut', '--config_file', cfg, '--dataset_dir', dataset, '--out_dir', tmp_path, '--resume', check=0)
    assert f'Resumed from' in r.stdout
    a, b = _weights(tmp_path/'full'), _weights(tmp_path/'cut')
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [e['val_loss'] for e in _evals(tmp_path/'full')] == [e['val_loss'] for e in _evals(tmp_path/'cut')]

def test_torchrun_two_processes(dataset, tmp_path):
    cfg = _cfg(tmp_path, max_iters=6, eval_interval=3)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    r = subprocess.run([str(BIN/'torchrun'), '--standalone', '--nproc_per_node', '2', str(BIN/'mypt'), 'train',
                        '--model_name', 'ddp', '--config_file', str(cfg), '--dataset_dir', str(dataset), '--out_dir', str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'world size 2' in r.stdout
    st = json.loads((tmp_path/'ddp'/'train_state.json').read_text())
    assert st['step'] == 6 and st['world_size'] == 2 and len(st['loader']) == 2
    assert st['loader'][0]['cursor'] == st['loader'][1]['cursor']
    assert len(_evals(tmp_path/'ddp')) == 3

def test_all_zero_mask_step_changes_nothing():
    from mypt.model import GPT, GPTConfig, configure_optimizer
    torch.manual_seed(0)
    m = GPT(GPTConfig(block_size=32, n_layer=1, n_head=2, n_embd=16)); opt = configure_optimizer(m, 1e-2, 0.1)
    x = torch.randint(0, 50000, (2, 32)); _, loss = m(x, x, torch.zeros_like(x))
    assert loss.item() == 0.0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None or not p.grad.any() for p in m.parameters())

def test_config_errors(dataset, tmp_path):
    bad = tmp_path/'bad.json'
    for cfg, needle in (({'n_layer': 2, 'n_embd': 30, 'n_head': 4}, 'n_embd: n_embd (30) must be divisible by n_head (4)'),
                        ({'learning_rate': -1e-3}, 'learning_rate: must not be negative'),
                        ({'n_layer': 'two'}, 'n_layer'),
                        ({'lr': 1e-3}, "unknown config key 'lr'"),
                        ({'block_size': 256}, 'longer than the model block_size 256')):
        bad.write_text(json.dumps({**json.loads(TINY.read_text()), **cfg}))
        r = run_mypt('train', '--model_name', 'x', '--config_file', bad, '--dataset_dir', dataset, '--out_dir', tmp_path, check=2)
        assert needle in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path/'x').exists()

def test_init_from_model_refuses_architecture_mismatch(dataset, tmp_path):
    run_mypt('train', '--model_name', 'base', '--config_file', _cfg(tmp_path, max_iters=1, eval_interval=1), '--dataset_dir', dataset, '--out_dir', tmp_path, check=0)
    cfg = _cfg(tmp_path, n_layer=2, n_embd=64, n_head=4)
    r = run_mypt('train', '--model_name', 'sft', '--config_file', cfg, '--dataset_dir', dataset, '--out_dir', tmp_path,
                 '--init_from_model', tmp_path/'base', check=2)
    assert 'architecture mismatch' in r.stderr and 'n_layer: checkpoint 1, config 2' in r.stderr and 'n_embd: checkpoint 32, config 64' in r.stderr

def test_pickle_checkpoint_is_refused_without_running(tmp_path):
    import pickle
    marker = tmp_path/'pwned'
    class Evil:
        def __reduce__(self): return (os.system, (f'touch {marker}',))
    ck = tmp_path/'evil'; ck.mkdir()
    (ck/'config.json').write_text(json.dumps({'model': {'n_layer': 1}}))
    with open(ck/'ckpt.pt', 'wb') as f: pickle.dump(Evil(), f)
    r = run_mypt('generate', '--model', ck, '--user', 'hi', check=2)
    assert 'refusing pickled file' in r.stderr and not marker.exists()

def test_report_to_tensorboard_writes_event_files(tmp_path):
    "A short run with report_to tensorboard: tensorboard's own reader finds the logged scalars, equal to metrics.jsonl."
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from mypt.prepare import prepare
    prepare(ROOT/'data'/'sample'/'gold_en.jsonl', tmp_path/'ds', val_split=0.1)
    cfg = tmp_path/'tb.json'
    cfg.write_text(json.dumps({**json.loads((ROOT/'configs'/'cpu'/'tiny_test.json').read_text()), 'max_iters': 4,
                               'eval_interval': 2, 'eval_iters': 1, 'log_interval': 1, 'report_to': 'tensorboard'}))
    run_mypt('train', '--model_name', 'tb', '--config_file', cfg, '--dataset_dir', tmp_path/'ds', '--out_dir', tmp_path, check=0)
    acc = EventAccumulator(str(tmp_path/'tb.tensorboard')); acc.Reload()
    tags = set(acc.Tags()['scalars'])
    assert {'train/loss', 'train/lr', 'train/tokens_per_s', 'train/useful_tokens_per_s', 'eval/train_loss', 'eval/val_loss', 'eval/gap'} <= tags
    recs = [json.loads(l) for l in (tmp_path/'tb'/'metrics.jsonl').read_text().splitlines()]
    want = [(r['step'], r['val_loss']) for r in recs if r['kind'] == 'eval']
    got = [(e.step, e.value) for e in acc.Scalars('eval/val_loss')]
    assert [s for s, _ in got] == [s for s, _ in want] == [0, 2, 4]
    assert all(abs(a - b) < 1e-5 * abs(b) for (_, a), (_, b) in zip(got, want))
    assert [e.step for e in acc.Scalars('train/loss')] == [1, 2, 3, 4]
