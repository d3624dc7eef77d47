#!/usr/bin/env python
"""Generation speed: tokens/s with and without the KV cache, same model, prompt and greedy tokens.

Also one sampling draw over the 50,304-token vocabulary: `torch.multinomial` (baseline) vs mypt's
`inverse_cdf` on the same probabilities (the notebook tests that its draws follow the distribution),
and what a repetition penalty over the last 256 tokens adds to one `sample_next`.

    python bench/generate_bench.py                       # demo and 6-layer models, 512 new tokens
    python bench/generate_bench.py --presets 124M        # on a GPU server
    python bench/generate_bench.py --presets             # the sampling tables only
"""
import argparse, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table, machine

PRESETS = {'demo': dict(n_layer=2, n_head=4, n_embd=128), '6L-384': dict(n_layer=6, n_head=6, n_embd=384),
           '124M': dict(n_layer=12, n_head=12, n_embd=768)}

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--presets', nargs='*', default=['demo', '6L-384'])
    ap.add_argument('--new_tokens', type=int, default=512)
    ap.add_argument('--prompt_tokens', type=int, default=30)
    ap.add_argument('--device', default='cuda' if __import__('torch').cuda.is_available() else 'cpu')
    a = ap.parse_args()
    import torch
    from mypt.model import GPT, GPTConfig
    from mypt.generate import generate
    print(f'# Generation benchmark: {a.prompt_tokens}-token prompt, {a.new_tokens} new tokens, greedy, {machine()}\n')
    rows = []
    for p in a.presets:
        torch.manual_seed(0)
        model = GPT(GPTConfig(block_size=1024, bias=False, **PRESETS[p])).to(a.device).eval()
        prompt = torch.randint(0, 50000, (a.prompt_tokens,)).tolist()
        res = {}
        for cache in (False, True):
            generate(model, prompt, max_new_tokens=8, temperature=0, stop_ids=(), use_cache=cache)   # warm-up
            if a.device.startswith('cuda'): torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = generate(model, prompt, max_new_tokens=a.new_tokens, temperature=0, stop_ids=(), use_cache=cache)
            if a.device.startswith('cuda'): torch.cuda.synchronize()
            res[cache] = (out, time.perf_counter() - t0)
        same = res[True][0] == res[False][0]
        for cache in (False, True):
            out, dt = res[cache]
            rows.append({'model': f'{p} ({model.num_params()/1e6:.1f}M)', 'KV cache': 'yes' if cache else 'no (baseline)',
                         'tokens/s': f'{len(out)/dt:,.0f}', 'seconds': f'{dt:.1f}',
                         'speed-up': f'{res[False][1]/dt:.1f}x', 'same tokens': 'yes' if same else 'NO'})
        assert same, 'cached and uncached greedy generation differ'
    if rows:
        print(table(rows, list(rows[0])))
        print()
    print(table(sampling(a.device), ['rows', 'draw', 'ms per draw', 'speed-up']))
    print()
    print(table(penalty(a.device), ['rows', 'step', 'ms per token', 'vs baseline']))

def sampling(device, reps=50):
    "ms per draw of B next tokens from (B, 50304) probabilities: multinomial vs inverse CDF."
    import torch
    from mypt.generate import inverse_cdf
    g = torch.Generator(device=device).manual_seed(0)
    draws = {'torch.multinomial (baseline)': lambda p: torch.multinomial(p, 1, generator=g).squeeze(-1),
             'inverse_cdf (mypt)': lambda p: inverse_cdf(p, torch.rand(p.size(0), generator=g, device=device, dtype=torch.float64))}
    rows = []
    for B in (1, 16):
        probs = (torch.randn(B, 50304, generator=g.manual_seed(B), device=device) * 3).softmax(-1)
        base = None
        for name, f in draws.items():
            f(probs)
            if device.startswith('cuda'): torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(reps): f(probs)
            if device.startswith('cuda'): torch.cuda.synchronize()
            ms = (time.perf_counter() - t0) / reps * 1000
            base = base or ms
            rows.append({'rows': B, 'draw': name, 'ms per draw': f'{ms:.2f}', 'speed-up': f'{base / ms:.1f}x'})
    return rows

def mask_penalty(logits, ids, real, penalty, window=256):
    "The earlier `penalize_repeats`, for comparison: a full-width mask of the seen tokens and two full-width `where`s."
    import torch
    V = logits.size(-1)
    recent = torch.where(real[:, -window:], ids[:, -window:], V)
    seen = torch.zeros(logits.size(0), V + 1, dtype=torch.bool, device=logits.device).scatter_(1, recent, True)[:, :V]
    return torch.where(seen, torch.where(logits > 0, logits / penalty, logits * penalty), logits)

def penalty(device, reps=50, context=1024):
    "ms per sampled token for B rows: `sample_next` alone vs a penalty (window 256) then `sample_next`: mask vs mypt's."
    import torch
    from mypt.generate import sample_next, penalize_repeats
    rows = []
    for B in (1, 16):
        g = torch.Generator(device=device).manual_seed(B)
        logits = torch.randn(B, 50304, generator=g, device=device) * 3
        ids = torch.randint(0, 50257, (B, context), generator=g, device=device)
        real = torch.ones(B, context, dtype=torch.bool, device=device)
        assert torch.equal(mask_penalty(logits, ids, real, 1.1), penalize_repeats(logits, ids, real, 1.1))
        steps = {'sample_next (baseline)': lambda: sample_next(logits, 0.7, generator=g),
                 'full-width mask penalty + sample_next': lambda: sample_next(mask_penalty(logits, ids, real, 1.1), 0.7,
                                                                              generator=g),
                 'penalize_repeats (gather/scatter) + sample_next': lambda: sample_next(
                     penalize_repeats(logits, ids, real, 1.1), 0.7, generator=g)}
        base = None
        for name, f in steps.items():
            f()
            if device.startswith('cuda'): torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(reps): f()
            if device.startswith('cuda'): torch.cuda.synchronize()
            ms = (time.perf_counter() - t0) / reps * 1000
            base = base or ms
            rows.append({'rows': B, 'step': name, 'ms per token': f'{ms:.2f}', 'vs baseline': f'{ms / base:.2f}x'})
    return rows

if __name__ == '__main__': main()
