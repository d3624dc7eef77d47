#!/usr/bin/env python
"""GPU training benchmark (issue 20): throughput, MFU and peak memory of the 124M and ~750M models on one CUDA device.

For each model, at block 1024 with bf16 autocast, one training step (forward, backward, grad clip, fused AdamW)
is timed for every combination of
  rows:     packed (best-fit, FlexAttention or SDPA with an episode mask) vs padded (one episode per row, causal SDPA)
  LM head:  masked (ChunkedLinearCE on trained tokens only) vs full logits (`full_logits=True`)
  compile:  eager vs torch.compile(model) (as `TrainConfig.compile` does)
plus one packed row with the other attention kernel. Episodes are synthetic with the guide's length profile
(most 150-900 tokens, 40-60% of tokens trained) and go through the real loader. Warmup steps are not timed
(compiled rows warm up past dynamo's recompile limit), and the timed steps sit between torch.cuda.synchronize().
Then the loss of the same episodes as padded and as packed rows, fp32 and bf16, shows the two layouts agree.

    bash bench/gpu.sh                                  # 124M and 750M, under 4 minutes on an H100/H200
    bash bench/gpu.sh --quick                          # a tiny model: a smoke test of the code path
    python bench/gpu_bench.py --quick --device cpu     # the same on CPU (fp32, no compile, MFU n/a)
    bash bench/gpu.sh --budget 0                       # no time budget: every compiled row, however long it takes

Compiled rows are costly (a cold torch.compile of the 124M model takes about a minute); they run after the eager
rows, most useful first, and a row that would not finish within --budget seconds is listed as skipped.
"""
import time
T_START = time.perf_counter()
import argparse, gc, math, os, re, signal, sys, traceback
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))                       # mypt from this checkout, also without the venv
from mypt.model import peak_flops   # noqa: E402  the bf16 peak of each device model, for MFU

MODELS = {   # config file (architecture) and the benchmark's batch (rows) and timed steps
    '124M': dict(config='configs/sft1/124M_1024_chat_sft.json', batch_size=8, steps=10),
    '750M': dict(config='configs/sft1/750M_1024_chat_sft_phase3a.json', batch_size=4, steps=6),
    'tiny': dict(arch=dict(n_layer=2, n_head=4, n_embd=128, block_size=256, dropout=0.0, bias=False), batch_size=4, steps=2),
}

def model_config(name):
    from mypt.model import GPTConfig
    from mypt.train import load_config
    spec = MODELS[name]
    return GPTConfig(**spec['arch']) if 'arch' in spec else load_config(ROOT/spec['config'])[0]

def guide_episodes(n:int, block_size:int, seed:int=0):
    "Synthetic (ids, mask) episodes: lognormal lengths, median 360 tokens at block 1024 (90% within 150-900), 1-3 turns, 40-60% of each turn trained."
    import numpy as np
    rng, s = np.random.default_rng(seed), block_size / 1024
    lens = np.clip(rng.lognormal(math.log(360 * s), 0.45, n), max(8, 24 * s), block_size + 1).astype(int)
    eps = []
    for L in lens:
        ids = rng.integers(0, 50257, L).astype(np.uint32)
        mask = np.zeros(L, np.uint8)
        cuts = np.linspace(0, L, int(rng.integers(1, 4)) + 1).astype(int)
        for a, b in zip(cuts[:-1], cuts[1:]):                # each turn: prompt (mask 0), then the reply (mask 1)
            mask[b - int((b - a) * rng.uniform(0.4, 0.6)):b] = 1
        mask[0] = 0
        eps.append((ids, mask))
    return eps

def describe_episodes(eps, T):
    import numpy as np
    L = np.array([len(i) for i, _ in eps]); trained = sum(int(m[1:].sum()) for _, m in eps) / (L - 1).sum()
    lo, hi = 150 * T / 1024, 900 * T / 1024
    return (f'{len(eps)} synthetic episodes, median {int(np.median(L))} tokens, {np.mean((L >= lo) & (L <= hi)):.0%} within '
            f'{lo:.0f}-{hi:.0f}, {trained:.0%} of targets trained')

# --- one benchmark row -------------------------------------------------------------------------------------
class Budget(Exception): "The hard time limit fell while a row was running."

def _sync(dev):
    import torch
    if dev.startswith('cuda'): torch.cuda.synchronize(dev)

def _autocast(dev, amp):
    import torch
    return torch.autocast('cuda', dtype=amp) if amp is not None else nullcontext()

def _free(dev):
    import torch
    gc.collect()
    if dev.startswith('cuda'): torch.cuda.empty_cache()

def build_model(mc, dev, seed=0):
    import torch
    from mypt.model import GPT
    torch.manual_seed(seed)
    with torch.device(dev): return GPT(mc)                    # initialised on the device (fast for 750M)

def attention_of(model, b):
    "The attention kernel packed rows use in this model's current mode: 'flex', 'sdpa+mask' or 'causal' (padded)."
    if b.get('doc') is None: return 'causal'
    from mypt.model import BlockMask
    m = model.packed_mask(b['doc'])
    return 'flex' if BlockMask is not None and isinstance(m, BlockMask) else 'sdpa+mask'

def dynamo_graphs():
    try:
        from torch._dynamo.utils import counters
        return int(counters['stats']['unique_graphs'])
    except Exception: return 0

def recompile_limit():
    import torch._dynamo
    c = torch._dynamo.config
    return int(getattr(c, 'recompile_limit', getattr(c, 'cache_size_limit', 8)))

def run_row(mc, eps, dev, amp, rows, head, compiled, attn, batch_size, warmup, steps, peak):
    "Time `steps` training steps after `warmup` untimed ones; returns the row's measurements."
    import torch
    from mypt.model import configure_optimizer, flops_per_token
    from mypt.data import GPTEpisodeDataLoader, MemorySplit, packing_summary
    T, cuda = mc.block_size, dev.startswith('cuda')
    if compiled:
        import torch._dynamo
        torch._dynamo.reset()                     # a fresh cache per row: no recompile limit carried over
        try: torch._dynamo.utils.counters.clear()
        except Exception: pass
    model = build_model(mc, dev).train()
    model.packed_attention = attn
    opt = configure_optimizer(model, 1e-4, 0.1, device_type=dev.split(':')[0])
    dl = GPTEpisodeDataLoader(MemorySplit(eps), batch_size, T, mode='packed' if rows == 'packed' else 'epoch',
                              epoch_seed=1, packer='bfd', device=dev)
    fill = packing_summary(dl)['fill']
    batches = [dl.get_batch() for _ in range(warmup + steps)]
    n_tr = [int(b['mask'].sum()) for b in batches]                     # trained targets per step
    kernel = attention_of(model, batches[0])
    fwd = torch.compile(model) if compiled else model
    full = head == 'full'
    def step(b, n):
        with _autocast(dev, amp):
            _, s = fwd(b['x'], b['y'], b['mask'], pos=b.get('pos'), doc=b.get('doc'), reduction='sum', full_logits=full)
        (s / n).backward()                                             # the trainer's loss: sum / trained tokens
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)
        return s
    t0 = time.perf_counter()
    for b, n in zip(batches[:warmup], n_tr[:warmup]): step(b, n)
    _sync(dev)
    t_warm = time.perf_counter() - t0
    g0 = dynamo_graphs()
    if cuda: torch.cuda.reset_peak_memory_stats(dev)
    _sync(dev); t0 = time.perf_counter()
    for b, n in zip(batches[warmup:], n_tr[warmup:]): s = step(b, n)
    _sync(dev); dt = time.perf_counter() - t0
    loss = float(s.detach()) / n_tr[-1]
    mem = torch.cuda.max_memory_allocated(dev) / 2**30 if cuda else None
    # FLOPs the step needs: 6N + attention per row position (PaLM, as mypt.model.flops_per_token); the masked
    # head computes the LM head (6·V·C per token) only on trained positions.
    fpt, head_fpt = flops_per_token(mc, model.num_params()), 6 * mc.vocab_size * mc.n_embd
    tokens, useful = batch_size * T * steps, sum(n_tr[warmup:])
    flops = fpt * tokens if full else (fpt - head_fpt) * tokens + head_fpt * useful
    out = dict(ms=1000 * dt / steps, tok_s=tokens / dt, useful_s=useful / dt, useful_step=useful / steps, fill=fill,
               mfu=flops / dt / peak if peak else None, mem=mem, loss=loss, attn=kernel, warm_s=t_warm,
               graphs=dynamo_graphs() if compiled else None, graphs_timed=dynamo_graphs() - g0 if compiled else 0)
    return out                                  # the model and optimizer go with this frame; the caller frees the cache

# --- loss of the same episodes, padded vs packed ---------------------------------------------------------
def loss_check(mc, eps, dev, amp, n_eps=64, batch_size=8):
    "Loss per trained token of the same episodes as padded and packed rows (eval mode), fp32 and `amp`."
    import torch
    from mypt.data import GPTEpisodeDataLoader, MemorySplit, eval_batches
    from mypt.model import create_block_mask
    model = build_model(mc, dev).eval()
    split = MemorySplit(eps[:n_eps])
    def loss(mode, attn='auto', dtype=None, leak=False):
        model.packed_attention = attn
        dl = GPTEpisodeDataLoader(split, batch_size, mc.block_size, mode=mode, device=dev)
        tot = cnt = 0.0
        with torch.no_grad(), _autocast(dev, dtype):
            for b in eval_batches(dl, n_eps):
                doc = None if leak else b.get('doc')       # leak: plain causal attention across the packed episodes
                _, s = model(b['x'], b['y'], b['mask'], pos=b.get('pos'), doc=doc, reduction='sum')
                tot += float(s); cnt += float(b['mask'].sum())
        return tot / cnt
    kernels = ['sdpa'] + (['flex'] if dev.startswith('cuda') and create_block_mask is not None else [])
    rows = [('padded', 'causal', 'fp32', loss('epoch'))]
    rows += [('packed', k, 'fp32', loss('packed', k)) for k in kernels]
    if amp is not None:
        rows.append(('padded', 'causal', 'bf16', loss('epoch', dtype=amp)))
        rows += [('packed', k, 'bf16', loss('packed', k, amp)) for k in kernels]
    rows.append(('packed, no episode mask (control)', 'causal', 'fp32' if amp is None else 'bf16', loss('packed', 'sdpa', amp, leak=True)))
    return rows

# --- output --------------------------------------------------------------------------------------------
def table(rows, cols):
    out = ['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]
    for r in rows: out.append('| ' + ' | '.join(str(r.get(c, '')) for c in cols) + ' |')
    return '\n'.join(out)

def fmt_row(name, mc, bs, rows, head, compiled, r):
    d = {'model': name, 'B x T': f'{bs} x {mc.block_size}', 'rows': rows, 'LM head': head, 'compile': 'on' if compiled else 'off'}
    if 'skip' in r: d['note'] = r['skip']; return d
    if 'error' in r: d['note'] = r['error']; return d
    d.update({'attention': r['attn'], 'fill': f"{r['fill']:.0%}", 'ms/step': f"{r['ms']:.1f}", 'tok/s': f"{r['tok_s']:,.0f}",
              'useful tok/s': f"{r['useful_s']:,.0f}", 'MFU': 'n/a' if r['mfu'] is None else f"{r['mfu']:.1%}",
              'peak mem GiB': 'n/a' if r['mem'] is None else f"{r['mem']:.1f}"})
    note = []
    if compiled:
        note.append(f"warmup+compile {r['warm_s']:.0f} s, {r['graphs']} graphs")
        if r['graphs_timed']: note.append(f"{r['graphs_timed']} compiled while timed")
    d['note'] = ', '.join(note)
    return d

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog='\n'.join(__doc__.splitlines()[1:]))
    ap.add_argument('--device', default='cuda', help="'cuda', 'cuda:N' or 'cpu' (a smoke test: fp32, no compile, MFU n/a)")
    ap.add_argument('--quick', action='store_true', help='a tiny model (2 layers, block 256) instead of 124M and 750M')
    ap.add_argument('--models', nargs='+', choices=['124M', '750M', 'tiny'], help='default: 124M 750M (tiny with --quick)')
    ap.add_argument('--compile', choices=['both', 'off', 'on'], default='both', help='eager rows, compiled rows or both')
    ap.add_argument('--attn', choices=['auto', 'sdpa', 'flex'], default='auto', help="packed rows' attention (model.packed_attention)")
    ap.add_argument('--batch_size', type=int, help='rows per step for every model (default: 124M 8, 750M 4)')
    ap.add_argument('--steps', type=int, help='timed steps per row (default: 124M 10, 750M 6)')
    ap.add_argument('--warmup', type=int, default=3, help='untimed steps of an eager row (compiled rows: recompile limit + 2)')
    ap.add_argument('--budget', type=float, default=210, help='seconds for the whole run: a row that would not fit is skipped (compiled rows run last; 0: no limit)')
    ap.add_argument('--peak_tflops', type=float, help='bf16 dense peak of this device, for MFU, when it is not in the table')
    ap.add_argument('--episodes', type=int, default=1200)
    a = ap.parse_args(argv)

    import torch
    dev = a.device
    if dev.startswith('cuda') and not torch.cuda.is_available():
        print(f'gpu_bench: no CUDA device (torch {torch.__version__}, CUDA build {torch.version.cuda or "none"}); nothing to measure.\n'
              f'Run it on a GPU machine, or `python bench/gpu_bench.py --quick --device cpu` for a smoke test of the code path.')
        return 0
    cuda = dev.startswith('cuda')
    if cuda and dev == 'cuda': dev = f'cuda:{torch.cuda.current_device()}'
    if cuda: torch.cuda.set_device(dev)
    amp = (torch.bfloat16 if torch.cuda.is_bf16_supported() else None) if cuda else None
    name = torch.cuda.get_device_name(dev) if cuda else f'CPU ({os.cpu_count()} cores)'
    peak, peak_label = ((a.peak_tflops * 1e12, '--peak_tflops') if a.peak_tflops else peak_flops(name)) if cuda else (None, 'CPU')
    if amp is None and cuda: peak, peak_label = None, 'no bf16 on this device'
    models = a.models or (['tiny'] if a.quick else ['124M', '750M'])
    budget = a.budget if a.budget > 0 else float('inf')
    elapsed = lambda: time.perf_counter() - T_START

    print(f"# GPU training benchmark: {name}, torch {torch.__version__}" + (f", CUDA {torch.version.cuda}" if cuda else '')
          + f", {'bf16 autocast' if amp is not None else 'fp32'}")
    print(f"peak for MFU: {f'{peak/1e12:,.0f} TFLOP/s bf16 dense ({peak_label})' if peak else f'n/a ({peak_label})'}")

    specs = {}
    for m in models:
        mc = model_config(m)
        bs = a.batch_size or MODELS[m]['batch_size']
        specs[m] = dict(mc=mc, bs=bs, steps=a.steps or MODELS[m]['steps'], eps=guide_episodes(a.episodes, mc.block_size))
        print(f"{m}: n_layer {mc.n_layer}, n_head {mc.n_head}, n_embd {mc.n_embd}, block {mc.block_size}, dropout {mc.dropout}, "
              f"batch {bs}; {describe_episodes(specs[m]['eps'], mc.block_size)}")
    sys.stdout.flush()

    # every row: eager ones first (cheap), then compiled ones, most useful first (packed + masked is the trainer's default)
    variants = [('packed', 'masked'), ('padded', 'masked'), ('packed', 'full'), ('padded', 'full')]
    plan = []
    if a.compile in ('both', 'off'):
        plan += [(m, r, h, False, a.attn) for m in models for r, h in variants]
        plan += [(m, 'packed', 'masked', False, 'other') for m in models]        # the other attention kernel
    if a.compile in ('both', 'on') and cuda:
        plan += [(m, r, h, True, a.attn) for m in models for r, h in variants]
    results, took, failed = {}, {}, False

    def estimate(m, compiled):
        "Seconds a row will take: what a like row of this model took, else scaled from another model by layers."
        if (m, compiled) in took: return max(took[(m, compiled)])
        for (m2, c2), ts in took.items():
            if c2 == compiled: return max(ts) * specs[m]['mc'].n_layer / specs[m2]['mc'].n_layer
        return (75 * specs[m]['mc'].n_layer / 12) if compiled else 10

    def on_alarm(signum, frame): raise Budget()
    hard = budget + 15                                       # a row that overruns its estimate is stopped here
    use_alarm = hasattr(signal, 'SIGALRM') and math.isfinite(hard)
    if use_alarm: signal.signal(signal.SIGALRM, on_alarm)
    oom = getattr(torch, 'OutOfMemoryError', getattr(torch.cuda, 'OutOfMemoryError', MemoryError))
    loss_rows = None
    for key in plan + ['loss check']:
        if key == 'loss check':                              # after the eager rows: cheap, and wanted even if compiling overruns
            m = models[0]
            if elapsed() > budget: continue
            print(f'[{elapsed():5.0f} s] {m} loss of padded vs packed rows ...', file=sys.stderr, flush=True)
            try: loss_rows = (m, loss_check(specs[m]['mc'], specs[m]['eps'], dev, amp))
            except Exception: traceback.print_exc(); failed = True
            _free(dev)
            continue
        m, rows, head, compiled, attn = key
        sp = specs[m]
        if attn == 'other':                                  # the kernel auto did not choose for packed rows
            first = results.get((m, 'packed', 'masked', False, a.attn), {})
            if 'attn' not in first or not cuda: continue
            attn = 'sdpa' if first['attn'] == 'flex' else 'flex'
        if elapsed() + estimate(m, compiled) > budget:
            results[key] = {'skip': f'skipped: --budget {a.budget:.0f} s (estimated {estimate(m, compiled):.0f} s)'}; continue
        warmup = recompile_limit() + 2 if compiled else a.warmup
        print(f"[{elapsed():5.0f} s] {m} {rows} rows, {head} head, compile {'on' if compiled else 'off'}, attention {attn} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            if use_alarm: signal.alarm(max(1, int(hard - elapsed())))
            results[key] = run_row(sp['mc'], sp['eps'], dev, amp, rows, head, compiled, attn, sp['bs'], warmup, sp['steps'], peak)
            if compiled: import torch._dynamo; torch._dynamo.reset()
            _free(dev)
        except Budget:
            results[key] = {'error': f'stopped: time limit {hard:.0f} s'}
            import torch._dynamo; torch._dynamo.reset(); _free(dev)
        except oom:
            results[key] = {'error': 'out of memory'}; _free(dev)
        except Exception as e:
            traceback.print_exc(); failed = True
            results[key] = {'error': f'{type(e).__name__}: {str(e).splitlines()[0][:100] if str(e) else ""}'}; _free(dev)
        finally:
            if use_alarm: signal.alarm(0)
        took.setdefault((m, compiled), []).append(time.perf_counter() - t0)

    # the table; per model, base = padded rows, full logits, eager (what a plain GPT-2 trainer does)
    cols = ['model', 'B x T', 'rows', 'LM head', 'compile', 'attention', 'fill', 'ms/step', 'tok/s', 'useful tok/s', 'vs base',
            'MFU', 'peak mem GiB', 'note']
    out = []
    for m in models:
        base = results.get((m, 'padded', 'full', False, a.attn), {}).get('useful_s')
        for key in plan:
            if key[0] != m or key not in results: continue
            r = results[key]
            d = fmt_row(m, specs[m]['mc'], specs[m]['bs'], key[1], key[2], key[3], r)
            if base and 'useful_s' in r: d['vs base'] = f"{r['useful_s'] / base:.2f}x"
            if key[4] == 'other' and r.get('attn') == 'flex' and specs[m]['mc'].dropout > 0:
                d['note'] = (d['note'] + ', ' if d['note'] else '') + f"no attention dropout (flex has none; auto picks sdpa at dropout {specs[m]['mc'].dropout})"
            out.append(d)
    steps = ', '.join(f"{m} {specs[m]['steps']}" for m in models)
    print()
    print(table(out, cols))
    print(f"\ntok/s: all row positions (padding included); useful: trained (mask 1) targets. vs base: useful tok/s over padded rows,"
          f" full logits, eager. Timed steps: {steps}, after {a.warmup} warmup steps (compiled rows: {recompile_limit() + 2});"
          f" batches assembled by the real loader before timing.")
    print("MFU: FLOPs the step needs (6N + 12·L·C·T per row position, PaLM; the masked head counts its 6·V·C only on trained"
          " positions) / time / peak. peak mem: torch.cuda.max_memory_allocated over the timed steps.")
    if not cuda: print('CPU: compiled rows skipped, MFU and peak memory n/a.')

    if loss_rows:
        m, lc = loss_rows
        ref = {dt: l for rows, _, dt, l in lc if rows == 'padded'}
        print(f'\nLoss of the same 64 episodes as padded and as packed rows ({m}, random init, eval mode; sum over trained targets / count):\n')
        print(table([{'rows': r, 'attention': k, 'dtype': dt, 'loss': f'{l:.6f}',
                      'vs padded': '' if r == 'padded' else f'{l - ref[dt]:+.1e}'} for r, k, dt, l in lc],
                    ['rows', 'attention', 'dtype', 'loss', 'vs padded']))
        ctrl = abs(lc[-1][3] - ref[lc[-1][2]])
        worst = {dt: max(abs(l - ref[dt]) for r, _, d2, l in lc if d2 == dt and r == 'packed') for dt in ref}
        tol = {'fp32': 1e-4, 'bf16': 5e-3}
        ok = all(worst[dt] <= tol[dt] for dt in worst)
        noise = f"; bf16 rounding itself (padded, bf16 - fp32): {abs(ref['bf16'] - ref['fp32']):.1e}" if 'bf16' in ref else ''
        print("\npacked vs padded, largest difference: " + ', '.join(f'{dt} {w:.1e} (tolerance {tol[dt]:.0e})' for dt, w in worst.items())
              + f"{noise}; attention leaking across episodes moves it by {ctrl:.1e} -> {'agree' if ok else 'DIFFER'}")
        failed |= not ok
    print(f'\ntotal {elapsed():.0f} s')
    return 1 if failed else 0

if __name__ == '__main__':
    sys.exit(main())
