#!/usr/bin/env python
"""Training throughput: padded vs packed episodes (greedy and best-fit packing), and the masked LM head vs full logits.

Prints, for the same model and batch shape, the row fill, the useful (mask = 1) tokens per second,
the step time and the peak memory of each variant, each measured in its own process; and checks that
padded and packed rows (both packers) compute the same loss on identical episodes (to 1e-4).
Useful tokens per step are the average over all steps of epoch 0, so short runs compare fairly.

    python bench/train_bench.py                    # demo model, CPU
    python bench/train_bench.py --preset 124M      # on a GPU server
"""
import argparse, json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import guide_profile_episodes, peak_rss_mb, run_worker, table, machine

PRESETS = {'demo': dict(n_layer=2, n_head=4, n_embd=128), '124M': dict(n_layer=12, n_head=12, n_embd=768),
           '750M': dict(n_layer=32, n_head=20, n_embd=1280)}

def sample_episodes():
    from mypt.core import sample_dir
    from mypt.episodes import read_episodes, encode_episode
    from mypt.tokens import Tokenizer
    tok = Tokenizer()
    return [encode_episode(e, tok) for e in read_episodes(sample_dir()/'gold_bilingual.jsonl')]

def worker(preset, data, mode, packer, head, batch_size, block_size, steps, device):
    import torch
    from mypt.model import GPT, GPTConfig, configure_optimizer
    from mypt.data import GPTEpisodeDataLoader, MemorySplit, packing_summary
    torch.manual_seed(0)
    eps = sample_episodes() if data == 'sample' else guide_profile_episodes(block_size=block_size)
    cfg = GPTConfig(block_size=block_size, bias=False, **PRESETS[preset])
    model = GPT(cfg).to(device)
    opt = configure_optimizer(model, 1e-4, 0.1, device_type=device.split(':')[0])
    dl = GPTEpisodeDataLoader(MemorySplit(eps), batch_size, block_size, mode=mode, epoch_seed=1, epoch_drop_last=False, device=device, packer=packer)
    s = packing_summary(dl)
    per_step = sum(int(dl.split.episode(i)[1][1:].sum()) for r in dl._epoch_rows(0) for i in r) / s['batches']   # mask-1 targets per step, epoch 0
    ctx = torch.autocast('cuda', dtype=torch.bfloat16) if device.startswith('cuda') else torch.autocast('cpu', enabled=False)
    full = head == 'full'
    def step():
        b = dl.get_batch()
        with ctx: _, loss = model(b['x'], b['y'], b['mask'], pos=b.get('pos'), doc=b.get('doc'), full_logits=full)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        return int(b['mask'].sum())
    for _ in range(2): step()
    if device.startswith('cuda'): torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps): step()
    if device.startswith('cuda'): torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    mem = torch.cuda.max_memory_allocated() / 2**20 if device.startswith('cuda') else peak_rss_mb()
    print(json.dumps({'step_ms': 1000 * dt / steps, 'useful_tok_s': per_step * steps / dt, 'peak_mb': mem, 'useful_per_step': per_step,
                      'fill': s['fill'], 'rows': s['rows']}))

def loss_agreement(preset, data, block_size, n_eps=48):
    "Loss over the same episodes, padded rows vs greedy and best-fit packed rows (eval mode, fp32)."
    import torch
    from mypt.model import GPT, GPTConfig
    from mypt.data import GPTEpisodeDataLoader, MemorySplit, eval_batches
    torch.manual_seed(0)
    eps = (sample_episodes() if data == 'sample' else guide_profile_episodes(block_size=block_size))[:n_eps]
    model = GPT(GPTConfig(block_size=block_size, bias=False, **PRESETS['demo'])).eval()
    out = {}
    for name, mode, packer in (('padded', 'epoch', 'bfd'), ('greedy', 'packed', 'greedy'), ('best-fit', 'packed', 'bfd')):
        dl = GPTEpisodeDataLoader(MemorySplit(eps), 8, block_size, mode=mode, packer=packer)
        tot = cnt = 0.0
        with torch.no_grad():
            for b in eval_batches(dl, len(eps)):             # every episode once
                _, loss = model(b['x'], b['y'], b['mask'], pos=b.get('pos'), doc=b.get('doc'))
                n = float(b['mask'].sum()); tot += loss.item() * n; cnt += n
        out[name] = tot / cnt
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--preset', default='demo', choices=list(PRESETS))
    ap.add_argument('--batch_size', type=int, default=4)
    ap.add_argument('--block_size', type=int, default=1024)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--device', default='cuda' if __import__('torch').cuda.is_available() else 'cpu')
    ap.add_argument('--data', nargs='+', default=['sample', 'guide'])
    ap.add_argument('--heads', nargs='+', default=['full', 'masked'], choices=['full', 'masked'])
    a = ap.parse_args()
    print(f'# Training benchmark: {a.preset} model, batch {a.batch_size} x {a.block_size}, {a.steps} steps, {machine()}\n')
    rows = []
    for data in a.data:
        for head in a.heads:
            for name, mode, packer in (('padded', 'epoch', 'bfd'), ('packed greedy', 'packed', 'greedy'), ('packed best-fit', 'packed', 'bfd')):
                r = run_worker(__file__, [a.preset, data, mode, packer, head, a.batch_size, a.block_size, a.steps, a.device])
                rows.append({'data': data, 'rows': name, 'LM head': head, 'rows/epoch': r['rows'], 'fill': f"{r['fill']:.1%}",
                             'ms/step': f"{r['step_ms']:.0f}", 'useful tok/s': f"{r['useful_tok_s']:,.0f}",
                             'useful tok/step': f"{r['useful_per_step']:,.0f}", 'peak MB': f"{r['peak_mb']:,.0f}", '_r': r})
        mine = [r for r in rows if r['data'] == data]
        base = next(r['_r'] for r in mine if r['rows'] == 'padded' and r['LM head'] == a.heads[0])
        for r in mine: r['speed-up'] = f"{r['_r']['useful_tok_s'] / base['useful_tok_s']:.2f}x"
        la = loss_agreement(a.preset, data, a.block_size)
        rows.append({'data': data, 'rows': 'loss check', 'LM head': f"padded {la['padded']:.6f}, greedy {la['greedy']:.6f}, best-fit {la['best-fit']:.6f}",
                     'ms/step': f"diff {max(abs(la['padded'] - la[k]) for k in ('greedy', 'best-fit')):.1e}"})
        assert all(abs(la['padded'] - la[k]) < 1e-4 for k in ('greedy', 'best-fit')), la
    print(table(rows, ['data', 'rows', 'LM head', 'rows/epoch', 'fill', 'ms/step', 'useful tok/s', 'useful tok/step', 'peak MB', 'speed-up']))
    print(f'\nbaseline: padded rows with {a.heads[0]} logits; "useful" = tokens with mask 1, per step averaged over epoch 0')

if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'worker':
        p, d, m, pk, h, b, t, s, dev = sys.argv[2:11]
        worker(p, d, m, pk, h, int(b), int(t), int(s), dev)
    else: main()
