"mypt import / export: OpenAI and ShareGPT chats in and out, lossless on the bundled sets, nothing dropped silently."
import json
from pathlib import Path
import pytest
from conftest import ROOT, run_mypt
from mypt.episodes import read_episodes

BUNDLED = [ROOT/'data'/'sample'/'gold_bilingual.jsonl', ROOT/'data'/'sample_tools'/'gold_tools.jsonl']

@pytest.mark.parametrize('src', BUNDLED, ids=lambda p: p.name)
def test_round_trip_is_lossless(tmp_path, src):
    run_mypt('export', src, '--to', 'openai', '--output', tmp_path/'openai.jsonl', check=0)
    recs = [json.loads(l) for l in (tmp_path/'openai.jsonl').read_text().splitlines()]
    assert all(m['role'] in ('system', 'user', 'assistant', 'tool') for r in recs for m in r['messages'])
    r = run_mypt('import', tmp_path/'openai.jsonl', '--from', 'openai', '--output', tmp_path/'back.jsonl', check=0)
    assert '0 dropped field(s), 0 skipped record(s)' in r.stdout
    assert read_episodes(tmp_path/'back.jsonl') == read_episodes(src)

def test_dropped_fields_are_reported_with_their_line(tmp_path):
    lines = [{'messages': [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello!'}]},
             {'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': 'Look'}, {'type': 'image_url', 'image_url': {}}]},
                           {'role': 'assistant', 'content': 'Nice.', 'weight': 0}], 'tools': []}]
    src = tmp_path/'chats.jsonl'; src.write_text(''.join(json.dumps(l) + '\n' for l in lines))
    r = run_mypt('import', src, '--from', 'openai', '--output', tmp_path/'gold.jsonl', check=0)
    assert f'{src}:2: tools: not part of a mypt episode' in r.stdout
    assert f'{src}:2: messages[0].content[1]: a image_url part' in r.stdout
    assert f'{src}:2: messages[1].weight: not part of a mypt message' in r.stdout
    assert f'{src}:1:' not in r.stdout
    assert [e['messages'][0]['content'] for e in read_episodes(tmp_path/'gold.jsonl')] == ['Hi', 'Look']

def test_unsupported_turn_stops_or_is_skipped(tmp_path):
    good = {'messages': [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello!'}]}
    bad = {'messages': [{'role': 'user', 'content': 'Hi'}, {'role': 'system', 'content': 'Be brief.'}, {'role': 'assistant', 'content': 'Ok'}]}
    src = tmp_path/'chats.jsonl'; src.write_text(json.dumps(good) + '\n' + json.dumps(bad) + '\n')
    r = run_mypt('import', src, '--from', 'openai', '--output', tmp_path/'gold.jsonl')
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f'mypt import: error: {src}:2: messages[1].role: a system message after the conversation started (mypt has one leading system prompt)']
    assert not (tmp_path/'gold.jsonl').exists()
    r = run_mypt('import', src, '--from', 'openai', '--output', tmp_path/'gold.jsonl', '--skip_invalid', check=0)
    assert f'{src}:2: messages[1].role' in r.stdout and '1 skipped record(s)' in r.stdout
    assert len(read_episodes(tmp_path/'gold.jsonl')) == 1

def test_sharegpt_with_tool_turns(tmp_path):
    rec = {'system': 'You are MyPT.', 'conversations': [
        {'from': 'human', 'value': 'Square root of 2?'},
        {'from': 'function_call', 'value': json.dumps({'name': 'calculator', 'arguments': {'expression': 'sqrt(2)'}})},
        {'from': 'observation', 'value': '1.4142'}, {'from': 'gpt', 'value': 'About 1.4142.'}], 'id': 'x'}
    src = tmp_path/'sg.jsonl'; src.write_text(json.dumps(rec) + '\n')
    r = run_mypt('import', src, '--from', 'sharegpt', '--output', tmp_path/'gold.jsonl', check=0)
    assert f'{src}:1: id: not part of a mypt episode' in r.stdout
    ep = read_episodes(tmp_path/'gold.jsonl')[0]
    assert ep['system'] == 'You are MyPT.'
    assert ep['messages'][1] == {'role': 'assistant_toolcall', 'name': 'calculator', 'arguments': {'expression': 'sqrt(2)'}}
    assert ep['messages'][2] == {'role': 'toolresult', 'name': 'calculator', 'content': '1.4142'}
    run_mypt('validate', tmp_path/'gold.jsonl', '--no_lints', check=0)

def test_import_and_export_never_overwrite_their_input(tmp_path):
    src = tmp_path/'g.jsonl'; src.write_bytes(BUNDLED[0].read_bytes()); before = src.read_bytes()
    for cmd in (('export', src, '--to', 'openai', '--output', src), ('import', src, '--from', 'openai', '--output', src)):
        r = run_mypt(*cmd)
        assert r.returncode == 2 and 'is the input' in r.stderr
    assert src.read_bytes() == before
