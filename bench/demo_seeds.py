#!/usr/bin/env python
"""How much the demo's verdict depends on the order of its training episodes.

Fine-tunes the bundled base with the demo config once per `epoch_seed` (the order in which the packed
episodes are drawn; nothing else changes) and runs the checklist's generation rules on every val
prompt, sampled as the checklist samples (temperature 0.7, repetition penalty 1.1, seed 0) and, for
comparison, without the penalty. The first rows are the config's own seed, as `mypt demo` runs it.
About 4 minutes per seed on 2 CPU cores.

    python bench/demo_seeds.py                       # needs runs/demo/dataset: run `mypt demo` first
    python bench/demo_seeds.py --seeds 1 2 --max_iters 200
    python bench/demo_seeds.py --set min_lr=0 --set learning_rate=0.001   # a variant of the demo config
    python bench/demo_seeds.py --base data/base/tiny_base_8l --seeds       # another base, the config's seed only
"""
import argparse, json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table, machine

ROOT = Path(__file__).resolve().parents[1]

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dataset_dir', default=str(ROOT/'runs'/'demo'/'dataset'))
    ap.add_argument('--seeds', type=int, nargs='*', default=[1, 2, 4, 5], help='epoch seeds after the config\'s own')
    ap.add_argument('--base', default=str(ROOT/'data'/'base'/'tiny_base'), help='base checkpoint folder to fine-tune')
    ap.add_argument('--max_iters', type=int, default=None, help="override the config's max_iters")
    ap.add_argument('--penalties', type=float, nargs='+', default=None,
                    help="repetition penalties to sample each model with (default: the checklist's, then 1 = none)")
    ap.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                    help='override one config key (VALUE is read as JSON, else as text); repeatable')
    a = ap.parse_args()
    if not (Path(a.dataset_dir)/'dataset_metadata.json').is_file():
        sys.exit(f'{a.dataset_dir}: not a prepared dataset (run `mypt demo` first, or pass --dataset_dir)')
    from mypt.train import parse_config, fit
    from mypt.core import InputError
    from mypt.evaluate import checklist, val_prompts
    from mypt.generate import REPETITION_PENALTY
    base_dir = Path(a.base)
    if not (base_dir/'config.json').is_file(): sys.exit(f'{base_dir}: not a checkpoint folder (no config.json)')
    cfg = json.loads((ROOT/'configs'/'cpu'/'demo_sft.json').read_text())
    if a.max_iters: cfg.update(max_iters=a.max_iters, eval_interval=a.max_iters)
    for kv in a.set:
        key, sep, val = kv.partition('=')
        if not sep: sys.exit(f'--set {kv}: expected KEY=VALUE')
        try: cfg[key] = json.loads(val)
        except json.JSONDecodeError: cfg[key] = val
    a.penalties = a.penalties or [REPETITION_PENALTY, 1.0]
    try: parse_config(cfg)   # unknown keys and bad values stop here, before any training
    except InputError as e: sys.exit(f'--set: {e}')
    prompts = val_prompts(a.dataset_dir, 10**6)
    base_rows = checklist(base_dir, a.dataset_dir, prompts=prompts, device='cpu')['comparison']   # sampled as the checklist does
    base_loss, base_closed = base_rows[0]['val_loss'], sum(bool(r['closed']) for r in base_rows)
    print(f'# Demo verdict by epoch seed: {machine()}\n')
    changed = ', '.join(a.set) or 'unchanged'
    print(f"base {base_dir.name}; demo config ({changed}), {cfg['max_iters']} steps; {len(prompts)} val prompts; "
          f"base val loss {base_loss:.4f}, base closed {base_closed} of {len(prompts)}\n")
    rows = []
    for seed in [cfg['epoch_seed']] + [s for s in a.seeds if s != cfg['epoch_seed']]:
        mc, tc, _ = parse_config({**cfg, 'epoch_seed': seed})
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            fit(mc, tc, a.dataset_dir, Path(tmp)/'sft', init_from=base_dir, quiet=True)
            trained = time.perf_counter() - t0
            for rp in a.penalties:   # the same model, sampled with each repetition penalty
                t1 = time.perf_counter()
                rep = checklist(Path(tmp)/'sft', a.dataset_dir, prompts=prompts, device='cpu', repetition_penalty=rp)
                replies = rep['comparison']   # one row per prompt: closed, language_ok, and the model's val loss
                loss, closed = replies[0]['val_loss'], sum(bool(r['closed']) for r in replies)
                lang = next(i['value'] for i in rep['items'] if i['name'] == 'language')
                rows.append({'epoch_seed': f"{seed}{' (config)' if seed == cfg['epoch_seed'] else ''}",
                             'val loss': f'{loss:.4f}', 'vs base': f'{loss - base_loss:+.2f}',
                             'repetition penalty': f"{rp:g}{' (checklist)' if rp == REPETITION_PENALTY else ''}",
                             'closed': f'{closed} of {len(replies)}', 'closed share': f'{closed / len(replies):.0%}',
                             'language': 'n/a' if lang is None else f'{lang:.0%}',
                             'train s': f'{trained:.0f}', 'checklist s': f'{time.perf_counter() - t1:.0f}'})
                print(json.dumps(rows[-1]), flush=True)
    print()
    print(table(rows, ['epoch_seed', 'val loss', 'vs base', 'repetition penalty', 'closed', 'closed share', 'language',
                       'train s', 'checklist s']))
    print('\nthresholds: closed share >= 0.8, language >= 0.8, val loss <= base - 1.0, base closed share <= 0.2')

if __name__ == '__main__':
    main()
