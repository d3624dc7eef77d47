#!/usr/bin/env python
"""Loader cost and packing: rows, fill and batch-assembly time from a prepared (memmapped) dataset, for
padded rows, greedy packing and best-fit packing, against the step rate of training the demo model on
the same batches. The loader should take under 2% of a step; useful (mask = 1) tokens per second of
training grow with the fill.

    python bench/loader_bench.py
"""
import argparse, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table, machine

VARIANTS = (('padded', 'epoch', 'bfd'), ('packed greedy', 'packed', 'greedy'), ('packed best-fit', 'packed', 'bfd'))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batch_size', type=int, default=4)
    ap.add_argument('--block_size', type=int, default=1024)
    ap.add_argument('--batches', type=int, default=200)
    ap.add_argument('--steps', type=int, default=5)
    a = ap.parse_args()
    import torch
    from mypt.core import sample_dir
    from mypt.prepare import prepare
    from mypt.dataset import open_dataset
    from mypt.data import GPTEpisodeDataLoader, packing_summary
    from mypt.model import GPT, GPTConfig, configure_optimizer
    d = Path(tempfile.mkdtemp())/'ds'
    prepare(sample_dir()/'gold_bilingual.jsonl', d, val_split=0.1, seed=42, block_size=a.block_size)
    split = open_dataset(d).split('train')
    print(f'# Loader benchmark: {len(split)} episodes (memmap), batch {a.batch_size} x {a.block_size}, {machine()}\n')
    rows = []
    for name, mode, packer in VARIANTS:
        mk = lambda: GPTEpisodeDataLoader(split, a.batch_size, a.block_size, mode=mode, epoch_seed=3301, epoch_drop_last=False, packer=packer)
        dl = mk(); s = packing_summary(dl)
        t0 = time.perf_counter(); dl._epoch_rows(1); pack_ms = 1000 * (time.perf_counter() - t0)
        useful = sum(int(dl.get_batch()['mask'].sum()) for _ in range(dl.batches_per_epoch)) / s['batches']   # per batch, epoch 0
        t0 = time.perf_counter()
        for _ in range(a.batches): dl.get_batch()
        load_ms = 1000 * (time.perf_counter() - t0) / a.batches
        torch.manual_seed(0)
        model = GPT(GPTConfig(block_size=a.block_size, n_layer=2, n_head=4, n_embd=128, bias=False))
        opt = configure_optimizer(model, 1e-3, 0.05)
        dl = mk(); batches = [dl.get_batch() for _ in range(a.steps + 1)]
        def step(b):
            _, loss = model(b['x'], b['y'], b['mask'], pos=b.get('pos'), doc=b.get('doc')); loss.backward(); opt.step(); opt.zero_grad()
        step(batches[0])
        t0 = time.perf_counter()
        for b in batches[1:]: step(b)
        step_ms = 1000 * (time.perf_counter() - t0) / a.steps
        rows.append({'rows': name, 'rows/epoch': s['rows'], 'fill': f"{s['fill']:.1%}", 'batches/epoch': s['batches'],
                     'pack ms/epoch': f'{pack_ms:.1f}' if mode == 'packed' else '', 'assemble ms/batch': f'{load_ms:.2f}',
                     'train ms/step': f'{step_ms:.0f}', 'loader share of step': f'{load_ms / step_ms:.2%}',
                     'useful tok/batch': f'{useful:,.0f}', 'useful tok/s': useful / step_ms * 1000})
    base = rows[0]['useful tok/s']
    for r in rows: r['vs padded'] = f"{r['useful tok/s'] / base:.2f}x"; r['useful tok/s'] = f"{r['useful tok/s']:,.0f}"
    print(table(rows, list(rows[0])))
    print('\nuseful = tokens with mask 1, averaged over all batches of epoch 0; useful tok/s = that / train ms/step')

if __name__ == '__main__': main()
