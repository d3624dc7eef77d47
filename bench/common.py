"Shared pieces of the benchmarks: synthetic episodes with the guide's length profile, timing, tables."
import json, os, resource, subprocess, sys, time
import numpy as np

def guide_profile_episodes(n=2000, mean=230, block_size=1024, seed=0):
    "Synthetic (ids, mask) episodes: lognormal lengths with the guide's mean (~230 tokens), ~42% assistant tokens."
    rng = np.random.default_rng(seed)
    sigma = 0.6; mu = np.log(mean) - sigma**2 / 2
    lens = np.clip(rng.lognormal(mu, sigma, n).astype(int), 24, block_size + 1)
    eps = []
    for L in lens:
        ids = rng.integers(0, 50257, L).astype(np.uint32)
        cut = int(L * 0.58)
        mask = np.zeros(L, np.uint8); mask[cut:L-1] = 1
        eps.append((ids, mask))
    return eps

def peak_rss_mb():
    "Peak resident memory of this process, MB (Linux reports KiB)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def run_worker(script, args, env=None):
    "Run `script worker ARGS` in a fresh process (own peak memory) and return its JSON result."
    r = subprocess.run([sys.executable, script, 'worker', *map(str, args)], capture_output=True, text=True, env={**os.environ, **(env or {})})
    if r.returncode: raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])

def table(rows, cols):
    "A Markdown table."
    out = ['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]
    for r in rows: out.append('| ' + ' | '.join(str(r.get(c, '')) for c in cols) + ' |')
    return '\n'.join(out)

def machine():
    import platform, torch
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f'CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})'
    return f'{dev}, torch {torch.__version__}, Python {platform.python_version()}'
