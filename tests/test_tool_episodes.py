"Tool calls, thinking and citations: exact ids and masks, ordering rules through the CLI, mask policies, the agent loop (issue 19)."
import json
from pathlib import Path
import numpy as np, pytest, torch
from conftest import ROOT, run_mypt
from mypt.tokens import Tokenizer, SPECIAL_TOKENS as S
from mypt.episodes import encode_episode, check_episode, episode_text, MASK_POLICIES
from mypt.generate import chat, parse_reply, TOOLCALL_OPEN, TOOLCALL_CLOSE
from mypt.model import GPT, GPTConfig

TOK = Tokenizer()
E = TOK.encode
U = {'role': 'user', 'content': 'q'}
A = {'role': 'assistant', 'content': 'a'}
CALL = {'role': 'assistant_toolcall', 'name': 'calc', 'arguments': {'x': 1}}
RES = {'role': 'toolresult', 'name': 'calc', 'content': '1'}
CTX = {'role': 'assistant_context', 'content': 'memory'}

def tagged(tag, body, m): return [(S[f'<{tag}>'], m), *[(t, m) for t in body], (S[f'</{tag}>'], m)]

ROWS = {   # one row of the schema table each: message -> expected (id, mask) pairs
    'user': ({'role': 'user', 'content': 'Hi'}, tagged('myPT_user', E('Hi'), 0)),
    'user + context': ({'role': 'user', 'content': 'Hi', 'context': 'doc'},
                       [(S['<myPT_user>'], 0), *tagged('myPT_user_context', E('doc'), 0), *[(t, 0) for t in E('Hi')], (S['</myPT_user>'], 0)]),
    'assistant': ({'role': 'assistant', 'content': 'Yes.'}, tagged('myPT_assistant', E('Yes.'), 1)),
    'assistant + think + cite': ({'role': 'assistant', 'content': 'Yes.', 'think': 'hm', 'cite': 'src'},
                       [(S['<myPT_assistant>'], 1), *tagged('myPT_think', E('hm'), 1), *[(t, 1) for t in E('Yes.')],
                        *tagged('myPT_cite', E('src'), 1), (S['</myPT_assistant>'], 1)]),
    'toolcall + think': ({'role': 'assistant_toolcall', 'name': 'calc', 'arguments': {'x': 1, 'ü': [2]}, 'think': 'go'},
                       [(S['<myPT_assistant>'], 1), *tagged('myPT_think', E('go'), 1),
                        *tagged('myPT_toolcall', E('{"name": "calc", "x": 1, "ü": [2]}'), 1), (S['</myPT_assistant>'], 1)]),
    'toolresult (JSON)': ({'role': 'toolresult', 'name': 'calc', 'content': {'r': 'ä'}}, tagged('myPT_toolresult', E('{"r": "ä"}'), 0)),
    'toolresult (text)': ({'role': 'toolresult', 'name': 'calc', 'content': '42'}, tagged('myPT_toolresult', E('42'), 0)),
    'assistant_context': ({'role': 'assistant_context', 'content': 'mem'}, tagged('myPT_assistant_context', E('mem'), 0)),
}

@pytest.mark.parametrize('row', ROWS)
def test_each_row_of_the_table(row):
    msg, want = ROWS[row]
    before = {'user': [A], 'user + context': [A]}.get(row, [])
    msgs = {'toolresult (JSON)': [U, CALL], 'toolresult (text)': [U, CALL], 'assistant_context': [U],
            'assistant': [U], 'assistant + think + cite': [U], 'toolcall + think': [U]}.get(row, [U, A])
    # place the message where the rules allow it, then end with an answer
    ep = {'messages': msgs + [msg] + ([RES] if msg['role'] == 'assistant_toolcall' else []) + ([A] if msg['role'] != 'assistant' else [])}
    if msg['role'] == 'user': ep = {'messages': [msg, A]}
    check_episode(ep)
    ids, mask = encode_episode(ep, TOK)
    pairs = list(zip(ids, mask))
    k = len(encode_episode({'messages': ep['messages'][:ep['messages'].index(msg)] + [A]}, TOK)[0]) - 1 - (len(E('a')) + 2) \
        if ep['messages'].index(msg) else 0
    assert pairs[k:k + len(want)] == want, row
    assert TOK.decode(ids) == episode_text(ep)

def test_several_calls_in_one_episode():
    ep = {'messages': [U, CALL, RES, {**CALL, 'arguments': {'x': 2}}, {**RES, 'content': '2'}, CTX, A]}
    ids, mask = encode_episode(check_episode(ep), TOK)
    assert ids.count(S['<myPT_toolcall>']) == 2 and ids.count(S['<myPT_toolresult>']) == 2
    trained = [t for t, m in zip(ids, mask) if m]
    assert trained.count(S['</myPT_assistant>']) == 3 and S['<myPT_toolresult>'] not in trained and S['<myPT_assistant_context>'] not in trained

RULES = {
    'call then answer': ([U, CALL, A], 'messages[2].role', "'assistant' cannot follow 'assistant_toolcall'"),
    'result after user': ([U, RES, A], 'messages[1].role', "'toolresult' cannot follow 'user'"),
    'context before result': ([U, CTX, RES, A], 'messages[2].role', "'toolresult' cannot follow 'assistant_context'"),
    'context at the end': ([U, A, U, CTX], 'messages[3].role', 'conversation must end with an assistant message'),
    'starts with a call': ([CALL, RES, A], 'messages[0].role', 'conversation must start with a user message'),
    'name in arguments': ([U, {**CALL, 'arguments': {'name': 1}}, RES, A], 'messages[1].arguments.name', "'name' is reserved"),
    'arguments a list': ([U, {**CALL, 'arguments': [1]}, RES, A], 'messages[1].arguments', 'expected an object, got list'),
    'result without name': ([U, CALL, {'role': 'toolresult', 'content': '1'}, A], 'messages[2].name', 'expected the tool name'),
    'think not a string': ([U, {**A, 'think': 3}], 'messages[1].think', 'expected a string, got int'),
    'unknown role': ([U, {'role': 'tool', 'content': 'x'}, A], 'messages[1].role', "got 'tool'"),
}

@pytest.mark.parametrize('rule', RULES)
def test_ordering_rules_through_validate(tmp_path, rule):
    msgs, field, needle = RULES[rule]
    f = tmp_path/'tools.jsonl'
    f.write_text(json.dumps({'id': 'ok', 'messages': [U, A]}) + '\n' + json.dumps({'id': 'bad', 'messages': msgs}) + '\n')
    r = run_mypt('validate', f, '--no_lints', check=2)
    assert f'{f}:2: {field}: ' in r.stdout + r.stderr and needle in r.stdout + r.stderr, r.stdout + r.stderr
    assert 'Traceback' not in r.stderr

def test_mask_policies_exact():
    ep = {'messages': [U, A, U, CALL, RES, A]}
    ids, m_asst = encode_episode(ep, TOK)
    _, m_last = encode_episode(ep, TOK, policy='last_assistant')
    _, m_all = encode_episode(ep, TOK, policy='all')
    opens = [k for k, t in enumerate(ids) if t == S['<myPT_assistant>']]
    assert m_last == [int(opens[-1] <= k < len(ids) - 1) for k in range(len(ids))]
    assert m_all == [1] * len(ids)
    assert sum(m_asst) > sum(m_last) and set(MASK_POLICIES) == {'assistant', 'last_assistant', 'all'}

def test_bundled_tool_set_is_valid_and_prepares(tmp_path):
    src = ROOT/'data'/'sample_tools'/'gold_tools.jsonl'
    run_mypt('validate', src, '--no_lints', check=0)
    out = tmp_path/'tools'
    run_mypt('prepare', '--input', src, '--output_dir', out, '--weighted_mask', '--mask_policy', 'assistant', check=0)
    meta = json.loads((out/'dataset_metadata.json').read_text())
    assert meta['mask_policy'] == 'assistant' and meta['weighted_mask'] is True
    for split in ('train', 'val'):
        tokens = np.fromfile(out/split/'tokens.bin', '<u4'); mask = np.fromfile(out/split/'mask.bin', 'u1')
        w = np.fromfile(out/split/'mask_weighted.bin', '<f4'); idx = np.fromfile(out/split/'episodes.idx', '<u8').reshape(-1, 2)
        assert len(tokens) == len(mask) == len(w) and idx[-1].sum() == len(tokens)      # upstream's layout, unchanged
        assert ((w > 0) == (mask == 1)).all() and set(np.unique(w)) <= {0.0, 1.0, 1.5, 2.0}
        assert (w[tokens == S['</myPT_toolcall>']] == 2.0).all() and (w[tokens == S['<myPT_think>']] == 1.5).all()

class Scripted(GPT):
    "A real GPT whose output head emits fixed tokens in turn: a stub model for the agent loop."
    def __init__(self, script):
        super().__init__(GPTConfig(block_size=256, n_layer=1, n_head=1, n_embd=8)); self.script = list(script)
    def lm_head(self, h):
        logits = torch.full((*h.shape[:-1], self.config.vocab_size), -1e9); logits[..., self.script.pop(0)] = 0.0
        return logits

def test_agent_loop_with_a_stub_model():
    calls = []
    def lookup(key): calls.append(key); return {'value': key.upper()}
    script = [TOOLCALL_OPEN, *E('{"name": "lookup", "key": "a"}'), TOOLCALL_CLOSE,
              TOOLCALL_OPEN, *E('{"name": "lookup", "key": "b"}'), TOOLCALL_CLOSE,
              *E('A and B.'), S['<myPT_cite>'], *E('lookup'), S['</myPT_cite>'], S['</myPT_assistant>']]
    model, history = Scripted(script), []
    reply = chat(model, TOK, 'a and b?', history=history, tools={'lookup': lookup}, temperature=0)
    assert reply == 'A and B.' and calls == ['a', 'b'] and not model.script
    assert [m['role'] for m in history] == ['user', 'assistant_toolcall', 'toolresult', 'assistant_toolcall', 'toolresult', 'assistant']
    assert history[2]['content'] == {'value': 'A'} and history[-1]['cite'] == 'lookup'
    check_episode({'messages': history})

def test_agent_loop_step_limit_and_bad_calls():
    loop = [TOOLCALL_OPEN, *E('{"name": "nope"}'), TOOLCALL_CLOSE] * 3
    history = []
    chat(Scripted(loop), TOK, 'x', history=history, tools={}, max_tool_calls=2, temperature=0)
    assert history[-1]['error'] == 'stopped after 2 tool calls'
    assert history[2]['content']['error'].startswith('unknown tool')
    with pytest.raises(ValueError, match='not JSON'): parse_reply(TOK, [TOOLCALL_OPEN, *E('{oops'), TOOLCALL_CLOSE])

def test_weighted_mask_dataset_trains_with_the_weighted_mean(tmp_path):
    import torch.nn.functional as F
    from mypt.dataset import open_dataset
    from mypt.data import GPTEpisodeDataLoader
    out = tmp_path/'w'
    run_mypt('prepare', '--input', ROOT/'data'/'sample_tools'/'gold_tools.jsonl', '--output_dir', out, '--weighted_mask', check=0)
    split = open_dataset(out).split('train')
    dl = GPTEpisodeDataLoader(split, 2, 1024, 'packed', epoch_seed=1)
    assert dl.weighted
    b = dl.get_batch()
    assert b['mask'].dtype == torch.float32 and set(torch.unique(b['mask']).tolist()) <= {0.0, 1.0, 1.5, 2.0}
    torch.manual_seed(0)
    m = GPT(GPTConfig(block_size=1024, n_layer=1, n_head=2, n_embd=16))
    with torch.no_grad():
        _, loss = m(b['x'], b['y'], b['mask'], pos=b['pos'], doc=b['doc'])
        logits = m.lm_head(m.hidden(b['x'], b['pos'], b['doc']))
        tl = F.cross_entropy(logits.view(-1, logits.size(-1)), b['y'].view(-1), reduction='none')
        want = (tl * b['mask'].view(-1)).sum() / b['mask'].sum()
    assert abs(loss.item() - want.item()) < 1e-5 * want.item()
    cfg = tmp_path/'cfg.json'
    cfg.write_text(json.dumps({**json.loads((ROOT/'configs'/'cpu'/'tiny_test.json').read_text()), 'max_iters': 2, 'eval_interval': 2,
                               'batch_sampling_mode': 'packed'}))
    r = run_mypt('train', '--model_name', 'wm', '--config_file', cfg, '--dataset_dir', out, '--out_dir', tmp_path, check=0)
    assert 'Weighted loss mask' in r.stdout and 'packing:' in r.stdout
