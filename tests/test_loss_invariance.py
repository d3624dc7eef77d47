"One loss however the batch is split: batch x accumulation x ranks give the same weights and logged losses (issue 16)."
import json, os, subprocess
from pathlib import Path
import numpy as np, pytest, torch
from conftest import ROOT, BIN, run_mypt
from safetensors.torch import load_file
from mypt.model import GPT, GPTConfig, configure_optimizer
from mypt.train import parse_config, train_step, Run, TrainConfig, Progress, count_trained

TINY = ROOT/'configs'/'cpu'/'tiny_test.json'
STEPS = 4

@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    "The English sample set: episodes from ~150 to ~900 tokens, so micro-batches differ a lot in trained tokens."
    d = tmp_path_factory.mktemp('inv')/'prepared'
    run_mypt('prepare', '--input', ROOT/'data'/'sample'/'gold_en.jsonl', '--output_dir', d, '--val_split', '0.1', check=0)
    return d

def _config(tmp_path, name, **kw):
    cfg = {**json.loads(TINY.read_text()), 'dropout': 0.0, 'max_iters': STEPS, 'eval_interval': STEPS, 'eval_iters': 1,
           'log_interval': 1, 'warmup_iters': 0, **kw}
    p = tmp_path/f'{name}.json'; p.write_text(json.dumps(cfg)); return p

def _train(tmp_path, dataset, name, world=1, **kw):
    cfg = _config(tmp_path, name, **kw)
    args = ['train', '--model_name', name, '--config_file', str(cfg), '--dataset_dir', str(dataset), '--out_dir', str(tmp_path)]
    if world == 1: run_mypt(*args, env={'OMP_NUM_THREADS': '1'}, check=0)
    else:
        r = subprocess.run([str(BIN/'torchrun'), '--standalone', '--nproc_per_node', str(world), str(BIN/'mypt'), *args],
                           capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS='1'), timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
    w = load_file(str(tmp_path/name/'model.safetensors'))
    losses = [json.loads(l)['loss'] for l in (tmp_path/name/'metrics.jsonl').read_text().splitlines() if '"train"' in l]
    return torch.cat([w[k].flatten().double() for k in sorted(w)]), losses

def _initial(cfg_path):
    mc, tc, _ = parse_config(json.loads(Path(cfg_path).read_text()))
    torch.manual_seed(tc.seed)
    sd = GPT(mc).state_dict()
    return torch.cat([sd[k].flatten().double() for k in sorted(sd) if k != 'lm_head.weight'])

@pytest.mark.parametrize('mode', ['epoch', 'packed'])
def test_split_invariance(dataset, tmp_path, mode):
    ref, ref_losses = _train(tmp_path, dataset, 'b4a1', batch_size=4, gradient_accumulation_steps=1, batch_sampling_mode=mode)
    w0 = _initial(tmp_path/'b4a1.json')
    update = (ref - w0).norm()
    assert update > 0
    runs = {'b2a2': dict(batch_size=2, gradient_accumulation_steps=2), 'b1a4': dict(batch_size=1, gradient_accumulation_steps=4)}
    if mode == 'epoch': runs['2 ranks x b2'] = dict(batch_size=2, gradient_accumulation_steps=1, world=2)
    for name, kw in runs.items():
        w, losses = _train(tmp_path, dataset, name.replace(' ', '_'), batch_sampling_mode=mode, **kw)
        assert float((w - ref).norm() / update) < 1e-5, (name, float((w - ref).norm() / update))
        assert len(losses) == STEPS and np.allclose(losses, ref_losses, rtol=1e-6, atol=0), (name, losses, ref_losses)

class _Zero:
    "A loader whose batches train on nothing."
    def get_batch(self):
        x = torch.randint(0, 50000, (2, 16))
        return {'x': x, 'y': x, 'mask': torch.zeros_like(x)}

def test_empty_step_changes_nothing_and_is_counted():
    torch.manual_seed(0)
    mc = GPTConfig(block_size=16, n_layer=1, n_head=2, n_embd=16)
    m = GPT(mc); opt = configure_optimizer(m, 1e-2, 0.1)
    before = [p.detach().clone() for p in m.parameters()]
    run = Run(mc, TrainConfig(gradient_accumulation_steps=2), Path('.'), quiet=True)
    stats = train_step(m, opt, _Zero(), run, 1e-2)
    assert stats == {'loss_sum': 0.0, 'n_tokens': 0.0}
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters())) and not opt.state
    pr = Progress(run, m.num_params()); pr.add(stats); pr.add({'loss_sum': 1.0, 'n_tokens': 3.0})
    assert pr.empty == 1

def test_empty_steps_in_metrics_log(dataset, tmp_path):
    "A dataset whose train masks are all zero: every step is empty, weights stay at their initial values, the log says so."
    import shutil
    ds = tmp_path/'zero'; shutil.copytree(dataset, ds)
    m = ds/'train'/'mask.bin'; m.write_bytes(bytes(m.stat().st_size))
    meta = json.loads((ds/'dataset_metadata.json').read_text()); meta['num_train_trained_tokens'] = 0   # consistent, or
    (ds/'dataset_metadata.json').write_text(json.dumps(meta))                                          # training refuses it
    w, _ = _train(tmp_path, ds, 'empty', batch_size=2)
    assert torch.equal(w, _initial(tmp_path/'empty.json'))
    recs = [json.loads(l) for l in (tmp_path/'empty'/'metrics.jsonl').read_text().splitlines() if '"train"' in l]
    assert [r['empty_steps'] for r in recs] == [1, 2, 3, 4]

def test_check_flag_reports_and_passes(dataset, tmp_path):
    cfg = _config(tmp_path, 'chk', batch_size=4, max_iters=1, eval_interval=1)
    r = run_mypt('train', '--model_name', 'chk', '--config_file', cfg, '--dataset_dir', dataset, '--out_dir', tmp_path, '--check', check=0)
    line = next(l for l in r.stdout.splitlines() if l.startswith('check on'))
    assert line.endswith('-> ok'), line
    assert 'mean of micro-batch means would differ by' in line

def test_check_fails_on_a_wrong_normalization(dataset, tmp_path, monkeypatch):
    "The check can fail: with the old per-micro-batch mean it reports a difference far above the tolerance."
    from mypt import train
    from mypt.dataset import open_dataset
    mc, tc, _ = parse_config(json.loads(_config(tmp_path, 'bad', batch_size=4).read_text()))
    run = train.setup_run(mc, tc, tmp_path/'bad', quiet=True)
    model, _ = train.build_model(run)
    real = train._split_gradient
    monkeypatch.setattr(train, '_split_gradient', lambda model, batches, mean_of_means=False: real(model, batches, len(batches) > 1))
    r = train.check_invariance(model, open_dataset(dataset).split('train'), run)
    assert not r['ok'] and r['split_gradient'] > 1e-3, r
