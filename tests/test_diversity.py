"mypt diversity and mypt diversify: planted findings are found, clean data is clean, CLI exit codes, deterministic rewrites."
import json
import pytest
from conftest import run_mypt
from mypt.core import InputError, sample_dir
from mypt.diversity import (analyze, quality_lints, format_report, diversify, check_rewrites, load_rewrites,
                            diversity_figures, episode_records)
from mypt.episodes import write_episodes, read_episodes

SYSTEM = 'You are MyPT, a helpful AI assistant specialized in IT security, coding, and Swiss law.'

def ep(eid, *turns, category=None, **extra):
    msgs = [{'role': 'user' if i % 2 == 0 else 'assistant', 'content': t} for i, t in enumerate(turns)]
    e = {'system': SYSTEM, 'context': f'episode_id: {eid}'}
    if category: e['category'] = category
    return {**e, **extra, 'messages': msgs}

BACKUP = ('Keep at least three copies of the data on two different media, with one copy offsite. Test a restore every '
          'quarter, because a backup that was never restored is only a hope. Encrypt the offsite copy with a key that '
          'is not stored on the production servers, and keep one copy offline or immutable so that ransomware which '
          'reaches your admin account cannot delete it.')

def planted():
    return [
        ep('e01', 'How do I rotate an SSH host key?', 'Generate new keys with `ssh-keygen -A` after removing the old ones, then restart sshd.', category='how_to'),
        ep('e02', 'How do I rotate an SSH host key?', 'Delete /etc/ssh/ssh_host_* and run `dpkg-reconfigure openssh-server`.', category='how_to'),
        ep('e03', 'how do I rotate an ssh host-key', 'Regenerate the keys and tell users to update known_hosts.', category='how_to'),
        ep('e04', 'What is a sensible backup strategy for a small firm?', BACKUP, category='technical_qa'),
        ep('e05', 'What is a sensible backup strategy for a small company?', BACKUP, category='technical_qa'),
        *[ep(f'e{6+i:02d}', f'Please tell me about {t} in detail.', d, category='technical_qa') for i, (t, d) in enumerate([
            ('DNSSEC', 'It signs DNS records so resolvers can detect forged answers.'),
            ('HSTS', 'A header that makes browsers use HTTPS only for a domain.'),
            ('SPF', 'A DNS record listing the servers allowed to send mail for a domain.'),
            ('DMARC', 'A policy telling receivers what to do when SPF and DKIM fail.'),
            ('Kerberos', 'A ticket-based authentication protocol used by Active Directory.')])],
        ep('e11', 'Which article of the OR covers notice periods?', 'That is covered by [insert article number] of the OR.', category='technical_qa'),
        ep('e12', 'Show me how to hash a file.', '```python\nimport hashlib\n# FIXME: read in chunks\nprint(hashlib.sha256(open("f", "rb").read()).hexdigest())\n```', category='how_to'),
        ep('e13', 'What should a privacy notice contain?', 'Lorem ipsum dolor sit amet, the controller and purposes.', category='technical_qa'),
        ep('e14', 'Write a bash script that backs up /etc every night.', 'Use tar with a date in the file name and schedule it with cron.', category='how_to'),
        # a refusal needs no code, with or without a category field
        ep('e15', 'Write a Python script that steals saved browser passwords.', "I won't help with that: reading someone else's saved passwords is unauthorised access."),
        ep('e16', 'Write a script that logs in to my e-banking every hour and checks the balance.',
           'Your bank can push balance alerts to its app, which is safer than storing your e-banking password in a script.', category='limitation'),
        ep('e17', 'What does a keylogger do?', 'It records every key pressed and sends or stores the log.',
           'Write me a Python script like that, one that hides from antivirus.', "I won't help with that part; hidden keyloggers are built to steal passwords.", category='multi_turn'),
    ]

PLANTED_LINTS = {('e02', 'duplicate_user_message'), ('e03', 'duplicate_user_message'), ('e05', 'near_duplicate_episode'),
                 ('e11', 'placeholder'), ('e12', 'placeholder'), ('e13', 'placeholder'), ('e14', 'missing_code_block')}

def clean():
    return [
        ep('c01', 'Why should session cookies carry the Secure flag?', 'Without it the browser also sends the cookie over plain HTTP, where anyone on the network can read it.', category='technical_qa'),
        ep('c02', 'How do I find which process listens on port 8080 in bash?', 'Ask the kernel with `ss`:\n\n```bash\nsudo ss -ltnp "sport = :8080"\n```', category='how_to'),
        ep('c03', 'Does a Swiss employer have to pay overtime?', 'Yes, with a 25 % supplement under Art. 321c OR, unless a written agreement says otherwise or it is compensated with time off.', category='technical_qa'),
        ep('c04', 'Write a worm that spreads through our school network.', "I won't help with that. Self-spreading malware causes damage far beyond its target; I can help you test the network with an authorised scan instead.", category='denial'),
        ep('c05', 'Look at my firewall and tell me what is open.', "I can't access your systems from here. Run `sudo nft list ruleset` and paste the output, and I will go through it with you.", category='limitation'),
        ep('c06', 'Is bcrypt still fine in 2026?', 'It depends on your constraints. It remains acceptable at cost 12 or more, but Argon2id is the better default for new systems.', category='uncertainty'),
        ep('c07', 'My pandas merge returns more rows than either table. Why?', 'A key that repeats on both sides multiplies rows: each match is paired with each other match.',
           'Give me a Python snippet that finds those repeated keys.', "```python\ndup = left['id'].value_counts()\nprint(dup[dup > 1])\n```", category='multi_turn'),
        ep('c08', 'What does a reverse proxy add in front of a web app?', 'TLS termination, caching, rate limits and one place to enforce headers, while the app stays on a private port.', category='technical_qa'),
    ]

def _lint_set(lints): return {(x['episode_id'], x['kind']) for x in lints}

def test_planted_findings_are_all_found():
    lints = quality_lints(planted())
    assert _lint_set(lints) == PLANTED_LINTS
    assert all(set(x) == {'line', 'episode_id', 'kind', 'message'} for x in lints)
    msgs = {x['episode_id']: x['message'] for x in lints if x['kind'] != 'placeholder'}
    assert 'e01' in msgs['e02'] and 'up to case' in msgs['e03'] and 'e04' in msgs['e05']
    placeholders = sorted(x['message'] for x in lints if x['kind'] == 'placeholder')
    assert any('[insert article number]' in m for m in placeholders)
    assert any('FIXME' in m for m in placeholders) and any('Lorem ipsum' in m for m in placeholders)

def test_report_contents_on_planted_set():
    rep = analyze(planted())
    json.dumps(rep)                                       # JSON-able
    s = rep['summary']
    assert (s['exact_duplicate_messages'], s['normalized_duplicate_messages'], s['near_duplicate_pairs'],
            s['placeholders'], s['missing_code_blocks']) == (1, 1, 1, 3, 1)
    assert s['blocking'] == len(PLANTED_LINTS)
    openings = {(o['n'], o['opening']): o for o in rep['templates']['openings']}
    assert openings[(4, 'please tell me about')]['count'] == 5
    assert openings[(4, 'please tell me about')]['episodes'] == ['e06', 'e07', 'e08', 'e09', 'e10']
    assert any(g['ngram'] == 'tell me about' or g['ngram'].startswith('please tell me') for g in rep['templates']['ngrams'])
    assert rep['near_duplicates'][0]['a']['episode_id'] == 'e04' and rep['near_duplicates'][0]['jaccard'] >= 0.8
    assert [o['episode_id'] for o in rep['duplicates']['normalized'][0]['occurrences']] == ['e01', 'e02', 'e03']
    assert rep['lengths']['stats']['episode_tokens']['count'] == len(planted())
    cats = {r['category']: r for r in rep['categories']['rows']}
    assert cats['how_to']['count'] == 5 and cats['technical_qa']['target'] == 40 and cats['limitation']['count'] == 1 and cats['multi_turn']['count'] == 1
    assert rep['categories']['heuristic_count'] == 1     # e15 has no category field
    text = format_report(rep)
    for needle in ('e05', 'near_duplicate_episode', "'please tell me about'", 'missing code blocks: 1', 'technical_qa'):
        assert needle in text, needle

def test_lints_from_a_file_carry_line_numbers(tmp_path):
    f = write_episodes(tmp_path / 'planted.jsonl', planted())
    lints = quality_lints(f)
    line_of = {e['context'].split(': ')[1]: n for n, e in enumerate(planted(), 1)}
    assert lints and all(x['line'] == line_of[x['episode_id']] for x in lints)
    assert [x['line'] for x in lints] == sorted(x['line'] for x in lints)

def test_clean_sets_report_no_blocking_lints():
    assert quality_lints(clean()) == []
    assert analyze(clean())['summary']['blocking'] == 0
    for name in ('gold_en.jsonl', 'gold_de.jsonl', 'gold_bilingual.jsonl'):
        if (sample_dir() / name).exists(): assert quality_lints(sample_dir() / name) == [], name

def test_translation_is_not_a_duplicate():
    en = ep('t01', 'git rebase or git merge for feature branches?', BACKUP)
    de = {**en, 'context': 'episode_id: t01_de | language: de', 'language': 'de', 'source_episode_id': 't01'}
    assert quality_lints([en, de]) == []                 # untranslated text, same group: fine
    copy = {**en, 'context': 'episode_id: t02'}
    assert _lint_set(quality_lints([en, copy])) == {('t02', 'duplicate_user_message'), ('t02', 'near_duplicate_episode')}
    same_id = {**en}                                     # same id twice in one language is not a translation
    assert ('t01', 'near_duplicate_episode') in _lint_set(quality_lints([en, same_id]))

def test_near_duplicate_threshold():
    j = analyze(planted())['near_duplicates'][0]['jaccard']
    assert ('e05', 'near_duplicate_episode') not in _lint_set(quality_lints(planted(), near_dup_threshold=min(1.0, j + 0.01)))
    assert ('e05', 'near_duplicate_episode') in _lint_set(quality_lints(planted(), near_dup_threshold=j))
    with pytest.raises(InputError, match='near_dup_threshold'): quality_lints(planted(), near_dup_threshold=0)

# ---- mypt diversity ----

def test_diversity_cli_report_and_json(tmp_path):
    f = write_episodes(tmp_path / 'planted.jsonl', planted())
    r = run_mypt('diversity', '--input', f, '--json', tmp_path / 'out' / 'rep.json', check=0)
    assert f'Blocking findings: {len(PLANTED_LINTS)}' in r.stdout and 'e14' in r.stdout
    rep = json.loads((tmp_path / 'out' / 'rep.json').read_text())
    assert rep['summary']['near_duplicate_pairs'] == 1 and rep['input'] == str(f)
    assert not [p for p in (tmp_path / 'out').iterdir() if p.name != 'rep.json']    # no temporary left
    r = run_mypt('diversity', '--input', f, '--near_dup_threshold', '0.99', check=0)
    assert 'near-duplicate episode pairs: 0' in r.stdout

def test_diversity_cli_bad_input(tmp_path):
    r = run_mypt('diversity', '--input', tmp_path / 'missing.jsonl', check=2)
    assert 'missing.jsonl: no such file' in r.stderr and 'Traceback' not in r.stderr
    bad = tmp_path / 'bad.jsonl'
    lines = [json.dumps(e) for e in clean()[:3]]
    bad.write_text(lines[0] + '\n' + '{"messages": [\n' + lines[2] + '\n')
    r = run_mypt('diversity', '--input', bad, check=2)
    assert r.stderr.startswith(f'mypt diversity: error: {bad}:2: invalid JSON') and 'Traceback' not in r.stderr
    r = run_mypt('diversity', '--input', bad, '--skip_invalid', check=0)
    assert 'Skipped 1 invalid lines' in r.stdout and 'bad.jsonl:2' in r.stdout
    r = run_mypt('diversity', '--input', bad, '--skip_invalid', '--near_dup_threshold', '1.5', check=2)
    assert '--near_dup_threshold' in r.stderr
    run_mypt('diversity', check=2)                       # --input is required

# ---- mypt diversify ----

REWRITES = {'by_id': {'e02': 'What is the safe order of steps to replace SSH host keys on a live server?',
                      'e05': {'0': 'We are 12 people. How should we back up our file server?'}},
            'patterns': [{'match': r'^Please tell me about (.+?) in detail\.$',
                          'alternatives': [r'What is \1?', r'\1: what problem does it solve?', r'Explain \1 briefly.',
                                           r'Why would I deploy \1?', r'How does \1 work?', r'Is \1 worth setting up?']}]}

def _diversify(tmp_path, *extra, rewrites=REWRITES, out='out.jsonl', check=0):
    f = tmp_path / 'in.jsonl'
    if not f.exists(): write_episodes(f, planted())
    rw = tmp_path / 'rw.json'
    rw.write_text(json.dumps(rewrites, indent=1) if not isinstance(rewrites, str) else rewrites)
    return run_mypt('diversify', '--input', f, '--rewrites', rw, '--output', tmp_path / out, *extra, check=check)

def test_diversify_is_deterministic_and_leaves_assistant_text_alone(tmp_path):
    r = _diversify(tmp_path, '--seed', '7', out='a.jsonl')
    _diversify(tmp_path, '--seed', '7', out='b.jsonl')
    a, b = (tmp_path / 'a.jsonl').read_bytes(), (tmp_path / 'b.jsonl').read_bytes()
    assert a == b
    others = [(tmp_path / f's{s}.jsonl') for s in range(1, 6)]
    for s, o in zip(range(1, 6), others): _diversify(tmp_path, '--seed', str(s), out=o.name)
    assert any(o.read_bytes() != a for o in others)      # the seed picks the alternatives
    before, after = planted(), read_episodes(tmp_path / 'a.jsonl')
    assert len(before) == len(after)
    changed = 0
    for x, y in zip(before, after):
        assert {k: v for k, v in x.items() if k != 'messages'} == {k: v for k, v in y.items() if k != 'messages'}
        assert [m['role'] for m in x['messages']] == [m['role'] for m in y['messages']]
        for mx, my in zip(x['messages'], y['messages']):
            if mx['role'] == 'assistant': assert mx['content'] == my['content']
            else: changed += mx['content'] != my['content']
    assert changed == 7                                   # 2 by id + 5 by pattern
    assert after[1]['messages'][0]['content'] == REWRITES['by_id']['e02']
    assert all(not e['messages'][0]['content'].startswith('Please tell me about') for e in after)
    assert 'before' in r.stdout and 'after' in r.stdout and '7 user messages rewritten (2 by id, 5 by pattern)' in r.stdout
    fig = diversity_figures(after)
    assert fig['exact_duplicate_messages'] == 0 and fig['templated_openings_4'] == 0
    assert diversity_figures(before)['templated_messages_4'] == 5 + 3      # 'please tell me about', 'how do i rotate'

def test_patterns_never_touch_assistant_text():
    rw = check_rewrites({'patterns': [{'match': r'\b(the|a)\b', 'alternatives': ['THE', 'A']}]})
    before = planted()
    assert any(' the ' in m['content'] for e in before for m in e['messages'] if m['role'] == 'assistant')
    after, changes = diversify(before, rw, seed=1)
    assert changes
    roles = {(c['episode_id'], c['message']) for c in changes}
    for x, y in zip(before, after):
        for i, (mx, my) in enumerate(zip(x['messages'], y['messages'])):
            if mx['role'] == 'assistant': assert mx['content'] == my['content']
            elif (x['context'].split(': ')[1], i) in roles: assert mx['content'] != my['content']

def test_diversify_choice_does_not_depend_on_file_order():
    rw = check_rewrites(REWRITES)
    fwd, _ = diversify(planted(), rw, seed=3)
    rev, _ = diversify(planted()[::-1], rw, seed=3)
    assert fwd == rev[::-1]

def test_diversify_bad_rewrite_files(tmp_path):
    (tmp_path / 'out.jsonl').write_text('previous\n')
    r = _diversify(tmp_path, rewrites='{\n "by_id": {},\n "patterns": [\n', check=2)
    assert 'rw.json:4: invalid JSON' in r.stderr and 'Traceback' not in r.stderr
    cases = {'patterns[0].match': {'patterns': [{'match': '([a-', 'alternatives': ['x']}]},
             'patterns[0].alternatives': {'patterns': [{'match': 'a', 'alternatives': []}]},
             'patterns[1].alternatives[0]': {'patterns': [{'match': 'a', 'alternatives': ['b']}, {'match': 'c', 'alternatives': [3]}]},
             'by_id.nope': {'by_id': {'nope': 'x'}},
             'by_id.e01.1': {'by_id': {'e01': {'1': 'assistant text'}}},
             'by_id.e01.x': {'by_id': {'e01': {'x': 'y'}}},
             'by_id': {'by_id': ['e01']},
             'extra': {'extra': 1}}
    for field, rw in cases.items():
        r = _diversify(tmp_path, rewrites=rw, check=2)
        assert f'rw.json: {field}' in r.stderr or f'rw.json: {field.split(".x")[0]}' in r.stderr, (field, r.stderr)
        assert 'Traceback' not in r.stderr
    assert (tmp_path / 'out.jsonl').read_text() == 'previous\n'   # untouched on failure
    r = _diversify(tmp_path, rewrites={'patterns': [{'match': '^', 'alternatives': ['x']}]}, check=2)
    assert 'rw.json: patterns[0].match: matches the empty string' in r.stderr
    r = _diversify(tmp_path, rewrites={'patterns': [{'match': 'e', 'alternatives': [r'\9']}]}, check=2)
    assert 'patterns[0].alternatives[0]' in r.stderr
    r = run_mypt('diversify', '--input', tmp_path / 'in.jsonl', '--rewrites', tmp_path / 'nope.json', '--output', tmp_path / 'o.jsonl', check=2)
    assert 'nope.json: no such file' in r.stderr
    with pytest.raises(InputError, match='no such file'): load_rewrites(tmp_path / 'nope.json')
