"The bundled sample set: schema, lengths, category mix, duplicates, placeholders, EN/DE pairing, code."
import collections, json, re
from pathlib import Path
import pytest
from mypt.core import sample_dir
from mypt.episodes import read_episodes, encode_episode, episode_id, episode_group
from mypt.tokens import Tokenizer

D = sample_dir()
TARGET = {'technical_qa': 40, 'how_to': 20, 'multi_turn': 15, 'denial': 10, 'limitation': 10, 'uncertainty': 5}
PLACEHOLDERS = re.compile(r'\[specific|\[insert|\bTODO\b|\bTBD\b|\bFIXME\b|lorem ipsum|\bXXX\b|<placeholder>|your_value_here', re.I)
FENCE = re.compile(r'```([A-Za-z0-9_+-]*)\n(.*?)```', re.S)

@pytest.fixture(scope='module')
def sets():
    return {n: read_episodes(D/f'gold_{n}.jsonl') for n in ('en', 'de', 'bilingual')}

def test_schema_and_lengths(sets):
    tok = Tokenizer()
    for name, eps in sets.items():
        lens = [len(encode_episode(e, tok)[0]) for e in eps]
        print(f'{name}: {len(eps)} episodes, tokens mean {sum(lens)/len(lens):.0f}, max {max(lens)}')
        assert max(lens) <= 1025, name
    assert len(sets['en']) >= 120 and len(sets['de']) == len(sets['en'])
    assert len(sets['bilingual']) == len(sets['en']) + len(sets['de'])

def test_category_mix(sets):
    c = collections.Counter(e['category'] for e in sets['en'])
    print('categories:', dict(c))
    assert set(c) == set(TARGET)
    for k, pct in TARGET.items(): assert abs(100 * c[k] / len(sets['en']) - pct) <= 5, (k, c[k])

def test_no_duplicates_or_placeholders(sets):
    for name in ('en', 'de'):
        users = [m['content'] for e in sets[name] for m in e['messages'] if m['role'] == 'user']
        dup = [u for u, n in collections.Counter(users).items() if n > 1]
        assert not dup, (name, dup[:3])
        bad = [(episode_id(e), m['content'][:60]) for e in sets[name] for m in e['messages'] if PLACEHOLDERS.search(m['content'])]
        assert not bad, bad
        print(f'{name}: {len(users)} user messages, all distinct, no placeholders')
    ids = [episode_id(e) for e in sets['en']]
    assert len(set(ids)) == len(ids)

def test_every_english_episode_has_one_german_counterpart(sets):
    en = {episode_id(e): e for e in sets['en']}
    pairs = collections.Counter(episode_group(d) for d in sets['de'])
    assert set(pairs) == set(en) and set(pairs.values()) == {1}
    assert all('ß' not in m['content'] for d in sets['de'] for m in d['messages'])
    for d in sets['de']:
        e = en[episode_group(d)]
        assert d['category'] == e['category'] and len(d['messages']) == len(e['messages'])
        for me, md in zip(e['messages'], d['messages']):    # code blocks unchanged by translation
            assert FENCE.findall(me['content']) == FENCE.findall(md['content']), episode_id(d)
    print(f'{len(en)} English episodes, each with exactly one German counterpart; code blocks identical')

def test_python_code_blocks_compile(sets):
    n = 0
    for name, eps in sets.items():
        for e in eps:
            for m in e['messages']:
                for lang, code in FENCE.findall(m['content']):
                    if lang.lower() in ('python', 'py'):
                        compile(code, f'{episode_id(e)}', 'exec'); n += 1
    print(f'{n} Python code blocks compile')
    assert n >= 50

def test_merge_tool_reproduces_bundled_bilingual_file(tmp_path):
    from conftest import run_mypt
    out = tmp_path/'bi.jsonl'
    run_mypt('merge', '--english', D/'gold_en.jsonl', '--german', D/'gold_de.jsonl', '--output', out, '--shuffle', '--seed', '3301', check=0)
    assert out.read_bytes() == (D/'gold_bilingual.jsonl').read_bytes()
