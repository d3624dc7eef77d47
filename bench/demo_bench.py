#!/usr/bin/env python
"""The demo's two hot spots on CPU: a fine-tuning step of the bundled base, and the checklist's sampled replies.

Training: the trainer's own `train_step` on the demo config (data/base/tiny_base, packed 2 x 1024 rows of
the bundled set), float32 vs bfloat16 autocast, with glibc's default handling of freed memory vs
`keep_freed_memory` (what the trainer does on CPU). Each variant runs in its own process (own allocator
settings and peak memory).
Generation: 6 of the checklist's val prompts with budgets of 2 x their reference reply, sampled as the checklist does,
decoded in one batch vs one prompt at a time (which is what grouping prompts by equal budget amounted to).

    python bench/demo_bench.py            # needs a prepared demo dataset: `mypt demo` makes runs/demo/dataset
"""
import argparse, json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import peak_rss_mb, run_worker, table, machine

ROOT = Path(__file__).resolve().parents[1]

def train_worker(dtype, keep, dataset_dir, steps):
    import torch, mypt.train as T
    if keep == '0': T.keep_freed_memory = lambda: False     # glibc's defaults
    cfg = json.loads((ROOT/'configs'/'cpu'/'demo_sft.json').read_text())
    mc, tc, _ = T.parse_config({**cfg, 'dtype': dtype})
    run = T.setup_run(mc, tc, ROOT/'runs'/'bench-unused', quiet=True)
    ds, _ = T.open_training_data(dataset_dir, run)
    loaders = T.make_loaders(ds, run)
    model, opt = T.build_model(run, ROOT/'data'/'base'/'tiny_base')
    model.train()
    for _ in range(2): T.train_step(model, opt, loaders.train, run, 1e-4)
    t0 = time.perf_counter()
    for _ in range(steps): T.train_step(model, opt, loaders.train, run, 1e-4)
    dt = (time.perf_counter() - t0) / steps
    print(json.dumps({'step_ms': 1000 * dt, 'tok_s': tc.batch_size * mc.block_size / dt, 'peak_mb': peak_rss_mb(),
                      'threads': torch.get_num_threads()}))

def generation(dataset_dir, n_prompts=6):
    from mypt.checkpoint import load_model
    from mypt.evaluate import val_prompts, reply_budget
    from mypt.generate import generate_batch, REPETITION_PENALTY
    m = load_model(ROOT/'data'/'base'/'tiny_base', 'cpu')      # never closes: every row runs its whole budget
    ps = val_prompts(dataset_dir, n_prompts)
    ids, budgets = [p['ids'] for p in ps], [reply_budget(p, 128) for p in ps]
    rows = []
    for name, groups in (('one prompt at a time', [[i] for i in range(len(ps))]), ('one batch', [list(range(len(ps)))])):
        t0, n = time.perf_counter(), 0
        for g in groups:
            n += sum(map(len, generate_batch(m, [ids[i] for i in g], [budgets[i] for i in g], 0.7, seed=0,
                                              repetition_penalty=REPETITION_PENALTY)))
        dt = time.perf_counter() - t0
        rows.append({'decoding': name, 'prompts': len(ps), 'new tokens': f'{n:,}', 'seconds': f'{dt:.1f}', 'tok/s': f'{n / dt:,.0f}'})
    return rows

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dataset_dir', default=str(ROOT/'runs'/'demo'/'dataset'))
    ap.add_argument('--steps', type=int, default=6)
    a = ap.parse_args()
    if not (Path(a.dataset_dir)/'dataset_metadata.json').is_file():
        sys.exit(f'{a.dataset_dir}: not a prepared dataset (run `mypt demo` first, or pass --dataset_dir)')
    print(f'# Demo benchmark: {machine()}\n')
    rows = []
    for dtype in ('float32', 'bfloat16'):
        for keep in ('0', '1'):
            r = run_worker(__file__, ['train', dtype, keep, a.dataset_dir, a.steps])
            rows.append({'autocast': dtype, 'freed memory': 'kept (trainer)' if keep == '1' else 'glibc default',
                         'ms/step': f"{r['step_ms']:.0f}", 'tok/s': f"{r['tok_s']:,.0f}", 'peak MB': f"{r['peak_mb']:,.0f}",
                         'threads': r['threads'], '_ms': r['step_ms']})
    base = rows[0]['_ms']
    for r in rows: r['speed-up'] = f"{base / r['_ms']:.2f}x"
    print(table(rows, ['autocast', 'freed memory', 'ms/step', 'tok/s', 'peak MB', 'threads', 'speed-up']))
    print(f'\nbaseline: float32 with glibc defaults; {a.steps} steps after 2 warm-up steps, demo config\n')
    print(table(generation(a.dataset_dir), ['decoding', 'prompts', 'new tokens', 'seconds', 'tok/s']))

if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'worker':
        train_worker(*sys.argv[3:6], int(sys.argv[6]))
    else: main()
