#!/usr/bin/env python
"""Ship a pretrained checkpoint as a base model folder: weights cast to 16 bits, config, tokenizer state, model card.

Called by scripts/pretrain_base.sh as its last step. The shipped `model.safetensors` holds float16
(or bfloat16) tensors; `mypt.train.load_model` copies them into float32 parameters. The card
records the corpus, its licences and sha256, the recipe, the architecture, the training tokens and
time, the loss curve, the val loss of the 32-bit and the shipped weights, and the weights' sha256.
"""
from __future__ import annotations
import argparse, hashlib, json, math, platform, re, shutil, sys, time
from pathlib import Path
import numpy as np, torch
from safetensors.torch import load_file, save_file

def sha256_file(p) -> str:
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''): h.update(b)
    return h.hexdigest()

@torch.no_grad()
def stream_loss(model, tokens, T: int, max_windows: int = 24, batch: int = 4) -> tuple[float, int]:
    "Mean next-token loss over the first `max_windows` consecutive, non-overlapping windows of `T` tokens."
    tokens = np.asarray(tokens, dtype=np.int64)
    n = min((len(tokens) - 1) // T, max_windows)
    total, count = 0.0, 0
    model.eval()
    for b in range(0, n, batch):
        rows = range(b, min(b + batch, n))
        w = torch.from_numpy(np.stack([tokens[r*T:r*T+T+1] for r in rows]))
        _, loss = model(w[:, :-1], w[:, 1:])
        total += float(loss) * w[:, 1:].numel(); count += w[:, 1:].numel()
    return total / count, count

def curve(metrics: list[dict]) -> tuple[list[dict], list[dict]]:
    return [r for r in metrics if r.get('kind') == 'eval'], [r for r in metrics if r.get('kind') == 'train']

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--checkpoint', required=True, help='mypt checkpoint folder of the pretraining run')
    ap.add_argument('--dataset_dir', required=True, help='token-stream dataset it was trained on')
    ap.add_argument('--corpus_log', required=True, help="build_base_corpus.py's output")
    ap.add_argument('--config', required=True)
    ap.add_argument('--train_seconds', type=int, required=True)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--nice', type=int, default=19)
    ap.add_argument('--dtype', default='float16', choices=['float16', 'bfloat16'])
    ap.add_argument('--out', required=True, help='base model folder, e.g. data/base/tiny_base')
    a = ap.parse_args(argv)
    from mypt.train import load_model
    from mypt.prepare import open_dataset
    ck, out = Path(a.checkpoint), Path(a.out)
    cfg = json.loads((ck/'config.json').read_text())
    mc, tc = cfg['model'], cfg['train']
    metrics = [json.loads(l) for l in (ck/'metrics.jsonl').read_text().splitlines() if l.strip()]
    evals, trains = curve(metrics)

    # weights: 16 bits, tied head not stored (as in every mypt checkpoint)
    out.mkdir(parents=True, exist_ok=True)
    sd = load_file(str(ck/'model.safetensors'))
    dt = getattr(torch, a.dtype)
    save_file({k: v.to(dt).contiguous() for k, v in sd.items()}, str(out/'model.safetensors'),
              metadata={'format': 'pt', 'dtype': a.dtype, 'trained_as': 'float32'})
    (out/'model.safetensors').chmod(0o644)
    base_cfg = {**cfg, 'weights_dtype': a.dtype}
    (out/'config.json').write_text(json.dumps(base_cfg, indent=2) + '\n')
    shutil.copyfile(ck/'tokenizer_state.json', out/'tokenizer_state.json')

    # the shipped weights load through mypt and lose (almost) nothing
    ds = open_dataset(a.dataset_dir)
    val = ds.split('val').tokens
    T = mc['block_size']
    full, n_val = stream_loss(load_model(ck), val, T)
    shipped_model = load_model(out)
    assert next(shipped_model.parameters()).dtype == torch.float32
    shipped, _ = stream_loss(shipped_model, val, T)
    n_params = sum(v.numel() for v in sd.values())
    size = (out/'model.safetensors').stat().st_size
    digest = sha256_file(out/'model.safetensors')

    corpus_log = Path(a.corpus_log).read_text()
    corpus_sha = re.search(r'corpus sha256: (\w+)', corpus_log).group(1)
    meta = json.loads((Path(a.dataset_dir)/'dataset_metadata.json').read_text())
    steps = cfg['step']
    tokens_seen = steps * tc['batch_size'] * T * tc['gradient_accumulation_steps']
    tok_s = [r['tok_s'] for r in trains if 'tok_s' in r]
    last = evals[-1]
    picks = evals[:: max(1, len(evals) // 10)] + ([last] if evals[:: max(1, len(evals) // 10)][-1] is not last else [])
    rows = '\n'.join(f"| {r['step']} | {r['step'] * tc['batch_size'] * T / 1e6:.2f} | {r['train_loss']:.3f} | {r['val_loss']:.3f} |" for r in picks)
    name = out.name
    card = f"""# {name}: mypt's tiny pretrained base model

A {mc['n_layer']}-layer, {mc['n_embd']}-wide GPT ({n_params/1e6:.1f}M parameters with the tied embedding) pretrained
from scratch on about {meta['num_train_tokens']/1e6:.1f}M tokens of openly licensed technical text, English and German,
on {a.threads} CPU thread{'s' if a.threads > 1 else ''}. It knows some English and German and the look of technical prose and code, and nothing about
chat: it has never seen a MyPT tag, so it does not close `</myPT_assistant>`. It is the starting point of
`mypt demo`, which fine-tunes it on the bundled bilingual episodes in a few CPU minutes:
`mypt train --init_from_model data/base/{name} ...`.

## Files

| file | content |
| --- | --- |
| `model.safetensors` | weights as {a.dtype} ({size/2**20:.1f} MiB; the LM head is tied to `wte.weight` and not stored); `load_model` copies them into float32 parameters |
| `config.json` | architecture (`model`), training settings (`train`), step and losses of the run, as every mypt checkpoint |
| `tokenizer_state.json` | GPT-2 BPE plus MyPT's pinned special tokens (vocab 50304) |

sha256 of `model.safetensors`: `{digest}`

## Corpus

| part | source | licence |
| --- | --- | --- |
| English | reStructuredText sources of the Python 3.11 documentation (Debian `python3.11-doc` 3.11.2-6+deb12u9): tutorial, FAQ, HOWTOs, language reference and library chapters (in a fixed order, up to the script's `--en_chars`), rendered as Markdown-like text | Python Software Foundation License Version 2; Copyright © 2001-2023 Python Software Foundation; All Rights Reserved |
| German | the Debian Reference (Osamu Aoki and translators, Debian `debian-reference-de` 2.100) and the Debian Developer's Reference (Debian `developers-reference-de` 12.18), plain text, tables and contents lists removed | GNU General Public License, version 2 or later |
| German | the German manual pages of Debian `manpages-de` 4.18.1-1 (manpages-l10n translators; sections 1-8, pages under 400 characters left out), troff rendered as Markdown-like text, one document per page | GNU General Public License, version 3 or later |

The corpus is built by `scripts/build_base_corpus.py` from the pinned packages (their sha256s are in the script):
{meta['num_train_documents'] + meta['num_val_documents']} documents, {meta['num_train_tokens'] + meta['num_val_tokens']:,} tokens
({meta['num_train_tokens']:,} train, {meta['num_val_tokens']:,} val in {meta['num_val_documents']} held-out documents).

```
{corpus_log.strip()}
```

The corpus sha256 is the `source.sha256` that `mypt prepare-text` records for it.

## Recipe

```bash
THREADS={a.threads} NICE={a.nice} scripts/pretrain_base.sh   # corpus, prepare-text, train (configs/base/{name}.json), cast, this card
```

Architecture and training: `configs/base/{name}.json`: n_layer {mc['n_layer']}, n_embd {mc['n_embd']}, n_head {mc['n_head']},
block_size {T}, vocab_size {mc['vocab_size']}, no bias, no dropout; AdamW, learning rate {tc['learning_rate']} with {tc['warmup_iters']} warmup
steps and cosine decay to {tc['min_lr']}, weight decay {tc['weight_decay']}, batch {tc['batch_size']} × {T} tokens, {steps} steps,
autocast dtype {tc['dtype']} on CPU, torch {torch.__version__}, {a.threads} thread(s) at nice {a.nice} on {platform.machine()}
({platform.processor() or 'CPU'}).

Trained on {tokens_seen/1e6:.2f}M tokens ({tokens_seen/meta['num_train_tokens']:.2f} passes over the train split) in
{a.train_seconds/60:.0f} minutes of wall time (median {np.median(tok_s):.0f} tokens/s).

| step | tokens (M) | train loss | val loss |
| ---: | ---: | ---: | ---: |
{rows}

Final: train loss {last['train_loss']:.3f}, val loss {last['val_loss']:.3f} (trainer's estimate, {tc['eval_iters']} random batches).
First {n_val:,} tokens of the val split (consecutive windows): {full:.3f} with the float32 weights,
{shipped:.3f} with the shipped {a.dtype} weights.
"""
    (out/'README.md').write_text(card)
    print(f'{out}: model.safetensors {size/2**20:.1f} MiB sha256 {digest}; val loss float32 {full:.4f}, {a.dtype} {shipped:.4f}')
    return 0

if __name__ == '__main__': sys.exit(main())
