#!/usr/bin/env python
"""Training throughput: padded vs packed episodes, and the masked LM head vs full logits.

Prints, for the same model and batch shape, the useful (mask = 1) tokens per second, the step time
and the peak memory of each variant, each measured in its own process; and checks that padded and
packed training compute the same loss on identical episodes (to 1e-4).

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

def worker(preset, data, mode, head, batch_size, block_size, steps, device):
    import torch
    from mypt.model import GPT, GPTConfig, configure_optimizer
    from mypt.data import GPTEpisodeDataLoader, MemorySplit
    torch.manual_seed(0)
    eps = sample_episodes() if data == 'sample' else guide_profile_episodes(block_size=block_size)
    cfg = GPTConfig(block_size=block_size, bias=False, **PRESETS[preset])
    model = GPT(cfg).to(device)
    opt = configure_optimizer(model, 1e-4, 0.1, device_type=device.split(':')[0])
    dl = GPTEpisodeDataLoader(MemorySplit(eps), batch_size, block_size, mode=mode, epoch_seed=1, epoch_drop_last=False, device=device)
    ctx = torch.autocast('cuda', dtype=torch.bfloat16) if device.startswith('cuda') else torch.autocast('cpu', enabled=False)
    full = head == 'full'
    def step():
        b = dl.get_batch()
        with ctx: _, loss = model(b['x'], b['y'], b['mask'], pos=b.get('pos'), doc=b.get('doc'), full_logits=full)
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        return int(b['mask'].sum())
    for _ in range(2): step()
    if device.startswith('cuda'): torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter(); useful = 0
    for _ in range(steps): useful += step()
    if device.startswith('cuda'): torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    mem = torch.cuda.max_memory_allocated() / 2**20 if device.startswith('cuda') else peak_rss_mb()
    print(json.dumps({'step_ms': 1000 * dt / steps, 'useful_tok_s': useful / dt, 'peak_mb': mem, 'useful_per_step': useful / steps}))

def loss_agreement(preset, data, block_size, n_eps=48):
    "Loss over the same episodes, padded rows vs packed rows (eval mode, fp32)."
    import torch
    from mypt.model import GPT, GPTConfig
    from mypt.data import GPTEpisodeDataLoader, MemorySplit, eval_batches
    torch.manual_seed(0)
    eps = (sample_episodes() if data == 'sample' else guide_profile_episodes(block_size=block_size))[:n_eps]
    model = GPT(GPTConfig(block_size=block_size, bias=False, **PRESETS['demo'])).eval()
    out = {}
    for mode in ('epoch', 'packed'):
        dl = GPTEpisodeDataLoader(MemorySplit(eps), 8, block_size, mode=mode, epoch_shuffle=False)
        rows = len(dl.eligible) if mode == 'epoch' else len(dl._epoch_rows(0))
        tot = cnt = 0.0
        with torch.no_grad():
            for k in range(0, rows, 8):
                b = dl.assemble(([[i] for i in dl.eligible] if mode == 'epoch' else dl._epoch_rows(0))[k:k+8])
                _, loss = model(b['x'], b['y'], b['mask'], pos=b.get('pos'), doc=b.get('doc'))
                n = float(b['mask'].sum()); tot += loss.item() * n; cnt += n
        out[mode] = tot / cnt
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--preset', default='demo', choices=list(PRESETS))
    ap.add_argument('--batch_size', type=int, default=4)
    ap.add_argument('--block_size', type=int, default=1024)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--device', default='cuda' if __import__('torch').cuda.is_available() else 'cpu')
    ap.add_argument('--data', nargs='+', default=['sample', 'guide'])
    a = ap.parse_args()
    print(f'# Training benchmark: {a.preset} model, batch {a.batch_size} x {a.block_size}, {a.steps} steps, {machine()}\n')
    rows = []
    for data in a.data:
        for mode, head in (('epoch', 'full'), ('epoch', 'masked'), ('packed', 'full'), ('packed', 'masked')):
            r = run_worker(__file__, [a.preset, data, mode, head, a.batch_size, a.block_size, a.steps, a.device])
            rows.append({'data': data, 'rows': 'padded' if mode == 'epoch' else 'packed', 'LM head': head,
                         'ms/step': f"{r['step_ms']:.0f}", 'useful tok/s': f"{r['useful_tok_s']:,.0f}",
                         'useful tok/step': f"{r['useful_per_step']:,.0f}", 'peak MB': f"{r['peak_mb']:,.0f}", '_r': r})
        base = next(r['_r'] for r in rows if r['data'] == data and r['rows'] == 'padded' and r['LM head'] == 'full')
        best = next(r['_r'] for r in rows if r['data'] == data and r['rows'] == 'packed' and r['LM head'] == 'masked')
        for r in rows:
            if r['data'] == data: r['speed-up'] = f"{r['_r']['useful_tok_s'] / base['useful_tok_s']:.2f}x"
        la = loss_agreement(a.preset, data, a.block_size)
        rows.append({'data': data, 'rows': 'loss check', 'LM head': f"padded {la['epoch']:.6f} vs packed {la['packed']:.6f}",
                     'ms/step': f"diff {abs(la['epoch'] - la['packed']):.1e}"})
        assert abs(la['epoch'] - la['packed']) < 1e-4, la
    print(table(rows, ['data', 'rows', 'LM head', 'ms/step', 'useful tok/s', 'useful tok/step', 'peak MB', 'speed-up']))
    print('\nbaseline: padded rows with full logits (the guide\'s loader); "useful" = tokens with mask 1')

if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'worker':
        p, d, m, h, b, t, s, dev = sys.argv[2:10]
        worker(p, d, m, h, int(b), int(t), int(s), dev)
    else: main()
