#!/usr/bin/env python
"""Preparation speed and memory: `mypt prepare` against raw tiktoken on the same text.

1. Throughput: a generated input of THROUGHPUT_MB (real episode text from the bundled set, with
   fresh ids) is encoded by raw tiktoken `encode_ordinary_batch` (texts preloaded, encoding only)
   and by `mypt prepare` end to end (read, validate, split, encode, write); tokens/s side by side.
2. Memory: `mypt prepare` on a generated input of about MEMORY_MB (default 1 GB), in its own
   process; peak resident memory against the input size.

    python bench/prepare_bench.py                         # 100 MB throughput, 1 GB memory run
    python bench/prepare_bench.py --memory_mb 0           # throughput only
"""
import argparse, json, os, random, subprocess, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table, machine

def generate(path, mb, seed=0):
    "Write about `mb` MB of episodes built from the bundled set (fresh ids, shuffled order)."
    from mypt.core import sample_dir
    lines = [json.loads(l) for l in open(sample_dir()/'gold_bilingual.jsonl', encoding='utf-8')]
    r, size, n = random.Random(seed), 0, 0
    with open(path, 'w', encoding='utf-8') as f:
        while size < mb * 1e6:
            ep = dict(r.choice(lines)); n += 1
            lang = ep.get('language', 'en')
            ep['context'] = f'episode_id: g{n:08d}' + ('_de | language: de' if lang == 'de' else '')
            ep.pop('source_episode_id', None)
            s = json.dumps(ep, ensure_ascii=False) + '\n'; f.write(s); size += len(s.encode())
    return n

def raw_tiktoken(path):
    from mypt.episodes import iter_episodes, episode_segments
    from mypt.tokens import Tokenizer
    tok = Tokenizer()
    texts = [t for _, ep in iter_episodes(path) for _, t in episode_segments(ep)]
    t0 = time.perf_counter(); out = tok.enc.encode_ordinary_batch(texts, num_threads=os.cpu_count() or 1)
    dt = time.perf_counter() - t0
    return sum(map(len, out)), dt

CHILD = """
import sys
from mypt.cli import main
rc = main(['prepare', '--input', sys.argv[1], '--output_dir', sys.argv[2], '--val_split', '0.01', '--block_size', '1024'])
hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]   # peak RSS of this process image
print('PEAK_RSS_KB', hwm)
sys.exit(rc)
"""

def run_prepare(src, out):
    "`mypt prepare` in a fresh process that reports its own peak memory (VmHWM: ru_maxrss would include the parent's pages from before exec)."
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, '-c', CHILD, str(src), str(out)], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode: raise RuntimeError(r.stderr)
    meta = json.loads((Path(out)/'dataset_metadata.json').read_text())
    peak = int(r.stdout.split('PEAK_RSS_KB')[-1].split()[0]) / 1024
    return meta, dt, peak

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--throughput_mb', type=float, default=100)
    ap.add_argument('--memory_mb', type=float, default=1000)
    ap.add_argument('--tmp', default=None)
    a = ap.parse_args()
    tmp = Path(a.tmp or tempfile.mkdtemp())
    print(f'# Prepare benchmark, {machine()}\n')
    rows = []
    src = tmp/'tp.jsonl'; n = generate(src, a.throughput_mb)
    ntok, dt = raw_tiktoken(src)
    rows.append({'run': f'raw tiktoken encode_ordinary_batch ({os.cpu_count()} threads, texts preloaded)', 'input MB': f'{src.stat().st_size/1e6:.0f}',
                 'episodes': f'{n:,}', 'content tokens': f'{ntok:,}', 'seconds': f'{dt:.1f}', 'tokens/s': f'{ntok/dt:,.0f}', 'vs raw': '1.00x'})
    meta, dtp, peak = run_prepare(src, tmp/'ds_tp')
    rows.append({'run': 'mypt prepare (end to end: read, validate, split, encode, write)', 'input MB': f'{src.stat().st_size/1e6:.0f}',
                 'episodes': f'{n:,}', 'content tokens': f'{ntok:,}', 'seconds': f'{dtp:.1f}', 'tokens/s': f'{ntok/dtp:,.0f}',
                 'vs raw': f'{dt/dtp:.2f}x', 'peak RSS MB': f'{peak:,.0f}'})
    if a.memory_mb:
        big = tmp/'big.jsonl'; nb = generate(big, a.memory_mb, seed=1)
        meta, dtb, peak = run_prepare(big, tmp/'ds_big')
        tt = meta['num_train_tokens'] + meta['num_val_tokens']
        rows.append({'run': 'mypt prepare, memory run', 'input MB': f'{big.stat().st_size/1e6:,.0f}', 'episodes': f'{nb:,}',
                     'content tokens': f'{tt:,} (dataset)', 'seconds': f'{dtb:.1f}', 'tokens/s': f'{tt/dtb:,.0f}', 'peak RSS MB': f'{peak:,.0f}'})
    print(table(rows, ['run', 'input MB', 'episodes', 'content tokens', 'seconds', 'tokens/s', 'vs raw', 'peak RSS MB']))
    print('\n"content tokens" counts the encoded message texts; the dataset adds tags and <myPT_eot>.')

if __name__ == '__main__': main()
