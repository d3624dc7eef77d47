"Generation (KV cache, stopping, prompts), evaluation (val loss, checklist) and the `mypt generate` / `mypt evaluate` commands."
import json
from contextlib import contextmanager
from pathlib import Path

import pytest, torch
import torch.nn.functional as F

from mypt.core import InputError, sample_dir
from mypt.data import MemorySplit
from mypt.episodes import encode_episode, read_episodes, render_prompt
from mypt.evaluate import checklist, evaluate_loss, fake_metrics, write_checklist, compare, comparison_html
from mypt.generate import CLOSE_ID, STOP_IDS, generate, generate_batch, reply_text
import mypt.generate as G
from mypt.model import GPT, GPTConfig, greedy_reference
from mypt.tokens import SPECIAL_TOKENS, Tokenizer, tokenizer_state
from mypt.checkpoint import save_checkpoint

from conftest import run_mypt

TOK = Tokenizer()
HEALTHY = [(0, 9.0, 9.1), (1000, 3.5, 4.0), (2000, 2.4, 3.0), (3000, 2.1, 2.9), (4000, 1.9, 2.8)]
OVERFIT = [(0, 9.0, 9.1), (1000, 3.5, 4.0), (2000, 1.8, 2.5), (3000, 1.2, 3.5), (4000, 0.8, 4.2)]


def random_model(seed=0, block_size=64, n_embd=32):
    torch.manual_seed(seed)
    return GPT(GPTConfig(block_size=block_size, n_layer=2, n_head=2, n_embd=n_embd, bias=True)).eval()


def closing_model(block_size=1024):
    "A model whose greedy output is always `</myPT_assistant>`: ln_f outputs a constant vector aligned with that row."
    m = random_model(1, block_size, 16)
    with torch.no_grad():
        m.ln_f.weight.zero_(); m.ln_f.bias.fill_(1.0)
        m.wte.weight[CLOSE_ID] = 1.0        # logit 16 against |N(0, 0.08)| for every other token
    return m


@contextmanager
def close_after(model, k):
    "Patch the output head: from the (k+1)-th output on, `</myPT_assistant>` is the top logit."
    head, calls = model.lm_head, [0]
    def forced(h):
        logits = head(h); calls[0] += 1
        if calls[0] > k: logits[..., CLOSE_ID] += 1e4
        return logits
    model.lm_head = forced
    try: yield calls
    finally: del model.lm_head


def make_checkpoint(path, model, evals=None):
    save_checkpoint(path, model, model.config, tok_state=tokenizer_state(TOK))
    if evals is not None: fake_metrics(Path(path)/'metrics.jsonl', evals)
    return Path(path)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    from mypt.prepare import prepare
    d = tmp_path_factory.mktemp('ds')/'prepared'
    prepare(sample_dir()/'gold_en.jsonl', d, val_split=0.1, seed=42)
    return d


# --- generation -----------------------------------------------------------------------------------

@pytest.mark.parametrize('length', [1, 4, 11, 30])
def test_greedy_with_and_without_cache_agree(length):
    m = random_model()
    p = torch.randint(0, 50000, (length,), generator=torch.Generator().manual_seed(length)).tolist()
    want = greedy_reference(m, torch.tensor([p]), 25)[0, length:].tolist()
    assert generate(m, p, 25, temperature=0, stop_ids=()) == want
    assert generate(m, p, 25, temperature=0, stop_ids=(), use_cache=False) == want


def test_batched_prompts_of_different_lengths_match_one_by_one():
    m = random_model()
    g = torch.Generator().manual_seed(3)
    prompts = [torch.randint(0, 50000, (n,), generator=g).tolist() for n in (3, 17, 8, 8, 30)]
    alone = [generate(m, p, 15, temperature=0, stop_ids=()) for p in prompts]
    assert generate_batch(m, prompts, 15, temperature=0, stop_ids=()) == alone
    assert generate_batch(m, prompts, 15, temperature=0, stop_ids=(), use_cache=False, batch_size=2) == alone


def test_prompts_with_their_own_budgets_share_one_batch():
    "Per-prompt budgets (the checklist's 2 x reference) decode together; each row stops at its own budget."
    m = random_model()
    g = torch.Generator().manual_seed(4)
    prompts = [torch.randint(0, 50000, (n,), generator=g).tolist() for n in (6, 11, 3, 20)]
    budgets = [9, 2, 17, 5]
    alone = [generate(m, p, b, temperature=0, stop_ids=()) for p, b in zip(prompts, budgets)]
    assert [len(r) for r in alone] == budgets
    assert generate_batch(m, prompts, budgets, temperature=0, stop_ids=()) == alone
    assert generate_batch(m, prompts, budgets, temperature=0, stop_ids=(), batch_size=3) == alone


def test_a_row_at_the_end_of_the_block_leaves_while_another_runs():
    "A short-budget row at the block's end is done after 3 tokens; a long-budget row goes on as it would alone."
    m = random_model(block_size=32)
    near_end, short = list(range(100, 130)), list(range(200, 205))   # 30 tokens: 3 positions left
    alone = [generate(m, near_end, 3, temperature=0, stop_ids=()), generate(m, short, 20, temperature=0, stop_ids=())]
    assert generate_batch(m, [near_end, short], [3, 20], temperature=0, stop_ids=()) == alone


def test_done_rows_leave_the_batch():
    "Once a row is out of budget (or closed), later steps run on the other rows only, with the same tokens."
    m = random_model()
    prompts, budgets = [list(range(100, 110)), list(range(300, 304)), list(range(500, 507))], [3, 12, 6]
    sizes = []
    hook = m.ln_f.register_forward_hook(lambda mod, inp, out: sizes.append(out.shape[0]))
    got = generate_batch(m, prompts, budgets, temperature=0, stop_ids=())
    hook.remove()
    assert sizes == [3] * 3 + [2] * 3 + [1] * 6   # prefill and 2 steps with 3 rows, 3 steps with 2, 6 with 1
    assert got == [generate(m, p, b, temperature=0, stop_ids=()) for p, b in zip(prompts, budgets)]
    with close_after(m, 4): closed = generate_batch(m, prompts, [20, 20, 20], temperature=0)
    assert all(r[-1] == CLOSE_ID and len(r) == 5 for r in closed)


def test_sampling_is_repeatable_with_a_seed():
    m, p = random_model(), list(range(100, 110))
    a = generate(m, p, 15, temperature=1.0, top_k=50, top_p=0.9, seed=11, stop_ids=())
    assert a == generate(m, p, 15, temperature=1.0, top_k=50, top_p=0.9, seed=11, stop_ids=())
    assert a == generate(m, p, 15, temperature=1.0, top_k=50, top_p=0.9, seed=11, stop_ids=(), use_cache=False)
    assert a != generate(m, p, 15, temperature=1.0, top_k=50, top_p=0.9, seed=12, stop_ids=())


@pytest.mark.parametrize('kw', [dict(temperature=0), dict(temperature=0, use_cache=False), dict(temperature=0.8, seed=5)])
def test_generation_stops_at_the_closing_tag(kw):
    m, p = random_model(), list(range(200, 215))
    free = generate(m, p, 20, **kw)
    assert len(free) == 20 and not set(free) & set(STOP_IDS)          # unforced: runs to the limit
    with close_after(m, 7): got = generate(m, p, 20, **kw)
    assert got == free[:7] + [CLOSE_ID]                              # the same tokens, then the tag, then nothing
    assert reply_text(TOK, got) == TOK.decode(free[:7])


def test_each_row_of_a_batch_stops_on_its_own():
    m = closing_model(64)
    with torch.no_grad(): m.wte.weight[CLOSE_ID] = -1.0              # now never closes
    p1, p2 = list(range(10, 15)), list(range(20, 29))
    out = generate_batch(m, [p1, p2], 6, temperature=0)
    assert [len(r) for r in out] == [6, 6]
    assert all(CLOSE_ID not in r for r in out)
    assert generate(closing_model(64), p1, 6, temperature=0) == [CLOSE_ID]


def test_generation_stops_when_positions_run_out():
    m = random_model(block_size=32)
    assert len(generate(m, list(range(30)), 50, temperature=0, stop_ids=())) == 3
    long = list(range(100, 150))                                     # longer than block_size: the last 32 tokens are kept
    assert generate(m, long, 2, temperature=0, stop_ids=()) == generate(m, long[-32:], 2, temperature=0, stop_ids=())


def test_bad_sampling_settings_are_input_errors():
    m = random_model()
    for kw in (dict(temperature=-1), dict(top_k=0), dict(top_p=0.0), dict(top_p=1.5), dict(repetition_penalty=-1.1)):
        with pytest.raises(InputError): generate(m, [1, 2, 3], 3, **kw)


def test_prompt_is_the_training_prefix_token_for_token():
    n = 0
    for path in ('gold_en.jsonl', 'gold_de.jsonl'):
        for ep in read_episodes(sample_dir()/path):
            ids, mask = encode_episode(ep, TOK)
            for j, msg in enumerate(ep['messages']):
                if msg['role'] != 'assistant': continue
                pr = render_prompt(ep['messages'][:j], TOK, system=ep.get('system'), context=ep.get('context'))
                assert ids[:len(pr)] == pr
                assert pr[-1] == SPECIAL_TOKENS['<myPT_assistant>'] and mask[len(pr) - 1] == 1
                body = TOK.encode(msg['content'])
                assert ids[len(pr):len(pr) + len(body) + 1] == body + [CLOSE_ID]
                n += 1
    assert n > 0


# --- evaluation -----------------------------------------------------------------------------------

def test_evaluate_loss_is_the_token_weighted_mean_over_every_episode(dataset):
    from mypt.dataset import open_dataset
    m = random_model(block_size=1024, n_embd=16)
    val = open_dataset(dataset).split('val')
    eps = [(val.episode(i)[0].copy(), val.episode(i)[1].copy()) for i in range(len(val))]
    got = evaluate_loss(m, dataset, batch_size=3)
    s = n = 0.0
    with torch.no_grad():
        for ids, mask in eps:
            t = torch.tensor(ids.astype('int64'))
            logits, _ = m(t[None, :-1], t[None, 1:], full_logits=True)
            tl = F.cross_entropy(logits[0].float(), t[1:], reduction='none')
            s += float((tl * torch.tensor(mask[1:]).float()).sum()); n += int(mask[1:].sum())
    assert got['tokens'] == n and got['episodes'] == len(eps)
    assert got['loss'] == pytest.approx(s / n, rel=1e-5)
    assert evaluate_loss(m, MemorySplit(eps), batch_size=1)['loss'] == pytest.approx(got['loss'], rel=1e-5)


def test_checklist_flags_overfitting_and_passes_a_healthy_run(tmp_path):
    m = closing_model()
    healthy = checklist(make_checkpoint(tmp_path/'healthy', m, HEALTHY), max_new_tokens=8)
    over = checklist(make_checkpoint(tmp_path/'over', m, OVERFIT), max_new_tokens=8)
    items = lambda r: {i['name']: i for i in r['items']}
    h, o = items(healthy), items(over)
    assert healthy['passed'] is True
    assert [h[k]['passed'] for k in ('final_loss', 'no_overfitting', 'generation', 'checkpoint_saved')] == [True] * 4
    assert h['sft_better_than_base']['passed'] is None                     # no base model: skipped
    assert over['passed'] is False
    assert o['no_overfitting']['passed'] is False and o['no_overfitting']['value'] == pytest.approx(3.4)
    assert o['final_loss']['passed'] is True
    for i in healthy['items']: assert {'name', 'passed', 'value', 'expected'} <= set(i)
    js, md = write_checklist(over, tmp_path/'report')
    assert json.loads(js.read_text())['passed'] is False
    assert '- [ ] **No overfitting**' in md.read_text() and '- [x] **Checkpoint saved**' in md.read_text()


def test_checklist_generation_item_fails_when_replies_never_close(tmp_path):
    m = closing_model()
    with torch.no_grad(): m.wte.weight[CLOSE_ID] = -1.0
    r = checklist(make_checkpoint(tmp_path/'ck', m, HEALTHY), max_new_tokens=4)
    gen = next(i for i in r['items'] if i['name'] == 'generation')
    assert gen['passed'] is False and gen['value'] == 0.0 and r['passed'] is False


def test_checklist_loss_item_fails_when_loss_did_not_drop_and_checkpoint_item_on_missing_files(tmp_path):
    ck = make_checkpoint(tmp_path/'ck', closing_model(), [(0, 9.0, 9.1), (100, 9.5, 9.6)])
    (ck/'tokenizer_state.json').unlink()
    r = {i['name']: i for i in checklist(ck, max_new_tokens=2)['items']}
    assert r['final_loss']['passed'] is False
    assert r['checkpoint_saved']['passed'] is False and r['checkpoint_saved']['value'] == {'missing': ['tokenizer_state.json']}


def test_checklist_compares_with_the_base_model_on_the_val_set(dataset, tmp_path):
    trained_like = make_checkpoint(tmp_path/'a', random_model(block_size=1024, n_embd=16), HEALTHY)
    always_close = make_checkpoint(tmp_path/'b', closing_model(), HEALTHY)   # puts all mass on one token: terrible val loss
    better = {i['name']: i for i in checklist(trained_like, dataset, always_close, max_new_tokens=2)['items']}
    worse = {i['name']: i for i in checklist(always_close, dataset, trained_like, max_new_tokens=2)['items']}
    assert better['sft_better_than_base']['passed'] is True
    assert worse['sft_better_than_base']['passed'] is False
    assert worse['sft_better_than_base']['value']['sft_val_loss'] > worse['sft_better_than_base']['value']['base_val_loss']


def test_compare_reports_closed_share_and_reply_length():
    df = compare({'closes': closing_model(), 'rambles': random_model(block_size=1024)}, ['Hello!', 'What is SQL?'], TOK, max_new_tokens=5)
    s = df.groupby('model')[['closed_share', 'mean_reply_tokens']].first()
    assert s.loc['closes'].tolist() == [1.0, 0.0] and s.loc['rambles'].tolist() == [0.0, 5.0]
    page = comparison_html(df)
    assert 'Hello!' in page and 'not closed' in page


# --- command line ---------------------------------------------------------------------------------

def test_mypt_generate_on_a_tiny_checkpoint(tmp_path):
    ck = make_checkpoint(tmp_path/'tiny', random_model(block_size=128))
    r = run_mypt('generate', '--model', ck, '--user', 'Hello!', '--max_new_tokens', '5', '--temperature', '0', '--raw', check=0)
    assert r.stdout.startswith('<myPT_user>Hello!</myPT_user><myPT_assistant>')
    assert '5 tokens' in r.stderr
    r2 = run_mypt('generate', '--model', ck, '--prompt', '<myPT_user>Hello!</myPT_user>\n<myPT_assistant>\n',
                  '--max_new_tokens', '5', '--temperature', '0', '--raw', check=0)
    assert r2.stdout == r.stdout                  # tags in --prompt are structure; whitespace between tags is dropped


def test_mypt_generate_prompt_tags_become_special_ids(tmp_path, monkeypatch):
    ck = make_checkpoint(tmp_path/'tiny', random_model(block_size=128))
    seen = []
    monkeypatch.setattr(G, 'generate', lambda model, ids, *a, **k: seen.append(ids) or [CLOSE_ID])
    guide = '<myPT_system>You are helpful.</myPT_system>\n<myPT_user>Hi</myPT_user>\n<myPT_assistant>'
    assert G.generate_main(['--model', str(ck), '--prompt', guide]) == 0
    assert G.generate_main(['--model', str(ck), '--user', 'Hi', '--system', 'You are helpful.']) == 0
    assert seen[0] == seen[1] == render_prompt([{'role': 'user', 'content': 'Hi'}], TOK, system='You are helpful.')
    assert G.generate_main(['--model', str(ck), '--prompt', '<myPT_user>a <myPT_user> b</myPT_user><myPT_assistant>']) == 0
    assert seen[2].count(SPECIAL_TOKENS['<myPT_user>']) == 2          # operator text: every tag is structure


def test_mypt_generate_missing_checkpoint_is_exit_2(tmp_path):
    r = run_mypt('generate', '--model', tmp_path/'nope', '--user', 'Hello', check=2)
    assert r.stderr.strip() == f'mypt generate: error: {tmp_path/"nope"}: checkpoint folder not found'
    assert 'Traceback' not in r.stderr
    r = run_mypt('generate', '--model', tmp_path, check=2)            # neither --prompt nor --user: usage error
    assert 'one of the arguments --prompt --user is required' in r.stderr


def test_mypt_evaluate_writes_the_report(tmp_path):
    ck = make_checkpoint(tmp_path/'ck', closing_model(), OVERFIT)
    prompts = tmp_path/'prompts.txt'; prompts.write_text('Hello!\n\nWhat is SQL injection?\n')
    out = tmp_path/'report'
    r = run_mypt('evaluate', '--model', ck, '--prompts', prompts, '--out_dir', out, '--max_new_tokens', '4', check=0)
    assert sorted(p.name for p in out.iterdir()) == ['checklist.json', 'checklist.md', 'comparison.csv', 'comparison.html', 'curves.png']
    rep = json.loads((out/'checklist.json').read_text())
    assert rep['passed'] is False and len(rep['comparison']) == 2
    assert '[FAIL] No overfitting' in r.stdout
    assert (rep['temperature'], rep['repetition_penalty'], rep['seed']) == (0.7, 1.1, 0)   # the guide's sampling, recorded
    assert 'temperature 0.7, repetition penalty 1.1, seed 0' in (out/'checklist.md').read_text()
    r = run_mypt('evaluate', '--model', tmp_path/'missing', check=2)
    assert 'checkpoint folder not found' in r.stderr


def test_step0_checkpoint_is_the_initialisation_of_the_run(dataset, tmp_path):
    from safetensors.torch import load_file
    from mypt.evaluate import step0_checkpoint
    from mypt.train import SMALL_CONFIG, fit, parse_config
    mc, tc, meta = parse_config(dict(SMALL_CONFIG, n_layer=1, n_embd=16, n_head=2, batch_size=1, max_iters=1, eval_iters=1, keep_best=False))
    fit(mc, tc, dataset, tmp_path/'run', meta=meta, quiet=True, stop_after=0)          # saved at step 0, before any update
    before = torch.get_rng_state()
    base = step0_checkpoint(tmp_path/'run', tmp_path/'base')
    assert torch.equal(torch.get_rng_state(), before)                                  # the caller's random state is untouched
    a, b = load_file(str(tmp_path/'run'/'model.safetensors')), load_file(str(base/'model.safetensors'))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (base/'tokenizer_state.json').read_text() == (tmp_path/'run'/'tokenizer_state.json').read_text()


def test_mypt_evaluate_with_dataset_base_and_episode_prompts(dataset, tmp_path):
    ck = make_checkpoint(tmp_path/'ck', random_model(block_size=1024, n_embd=16), HEALTHY)
    base = make_checkpoint(tmp_path/'base', closing_model())
    eps = tmp_path/'prompts.jsonl'
    eps.write_text((sample_dir()/'gold_en.jsonl').read_text().splitlines()[0] + '\n')
    out = tmp_path/'report'
    run_mypt('evaluate', '--model', ck, '--dataset_dir', dataset, '--base_model', base, '--prompts', eps,
             '--out_dir', out, '--max_new_tokens', '3', check=0)
    rep = json.loads((out/'checklist.json').read_text())
    items = {i['name']: i for i in rep['items']}
    assert items['sft_better_than_base']['passed'] is True
    assert {r['model'] for r in rep['comparison']} == {'sft', 'base'}
    assert rep['comparison'][0]['prompt'] == read_episodes(sample_dir()/'gold_en.jsonl')[0]['messages'][0]['content']
    bad = tmp_path/'bad.jsonl'; bad.write_text('{"messages": [{"role": "admin", "content": "x"}]}\n')
    r = run_mypt('evaluate', '--model', ck, '--prompts', bad, '--out_dir', out, check=2)
    assert 'bad.jsonl:1' in r.stderr
