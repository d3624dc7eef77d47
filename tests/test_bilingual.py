"Bilingual workflow: extract -> translate (against a fake DeepL server on loopback) -> recombine -> merge."
import json, re, shutil, socket, subprocess, threading, time
import xml.etree.ElementTree as ET
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs
import pytest
from conftest import BIN, run_mypt

KEY = 'k3y-5ecret-9f2c71d4-test:fx'
FENCED = re.compile(r'```.*?```', re.S)          # independent of mypt's own code finder
PREFIX, SUFFIX = 'Übersetzt: ', ' (Straße)'

# ---------------------------------------------------------------- the corpus
CODE_ONLY = "```bash\nls -la /tmp  # CODE-MARK-only\n```"
EPISODES = [
    {"system": "You are MyPT.", "context": "episode_id: 0001", "category": "how_to", "messages": [
        {"role": "user", "content": "How do I read a file in Python?\tWith tabs and a path C:\\new\\table"},
        {"role": "assistant", "content": "Use `open()` with a context manager:\n\n```python\nwith open('a.txt') as f:  # CODE-MARK-1 größe\n    print(f.read())\n```\n\nThen check `f.closed`. Grüezi ✓"}]},
    {"system": "You are MyPT.", "context": "episode_id: 0002", "category": "multi_turn", "messages": [
        {"role": "user", "content": "Thanks!"},
        {"role": "assistant", "content": "You're welcome. Escape <b>tags</b> & entities like &amp; in HTML."},
        {"role": "user", "content": "Windows line\r\nends and a line\u2028separator, and a backslash-n literal: \\n"},
        {"role": "assistant", "content": CODE_ONLY}]},
    {"system": "You are MyPT.", "context": "episode_id: 0003", "category": "technical_qa", "extra": {"k": [1, 2]}, "messages": [
        {"role": "user", "content": "Thanks!"},                                   # a repeated message
        {"role": "assistant", "content": "  Leading and trailing whitespace stays.  \n"}]},
    {"system": "You are MyPT.", "context": "episode_id: 0004", "category": "how_to", "messages": [
        {"role": "user", "content": "Show SQL injection in ``a ` tick`` and a firewall rule."},
        {"role": "assistant", "content": "Never build queries by hand:\n```sql\nSELECT * FROM t WHERE id = ?; -- CODE-MARK-2\n```\nAlways bind parameters; a firewall does not help."}]},
    {"system": "You are MyPT.", "context": "episode_id: 0005", "category": "limitation", "messages": [
        {"role": "user", "content": "Can you browse the web? 🙂"},
        {"role": "assistant", "content": "No, I cannot access the internet.\n\n- point one\n- point two"}]},
]
ALL_MESSAGES = [m['content'] for e in EPISODES for m in e['messages']]
PROSE = {t for t in ALL_MESSAGES if t != CODE_ONLY}        # distinct messages that need translating


def expected_de(t, swiss=False):
    "What the fake translation of `t` must become after restoration (code exact, prose marked)."
    if t == CODE_ONLY: return t
    body = t.strip()
    lead, trail = t[:len(t) - len(t.lstrip())], t[len(t.rstrip()):]
    out = lead + PREFIX + body + SUFFIX + trail
    if swiss:   # ß only outside code: the fake's own ß in SUFFIX, never the source's code
        out = lead + PREFIX + body + SUFFIX.replace('ß', 'ss') + trail
    return out


def write_jsonl(path, eps):
    path.write_text(''.join(json.dumps(e, ensure_ascii=False) + '\n' for e in eps), encoding='utf-8')
    return path


def read_jsonl(path):
    return [json.loads(l) for l in Path(path).read_text(encoding='utf-8').split('\n') if l.strip()]


# ---------------------------------------------------------------- the fake DeepL server
class FakeDeepL:
    "POST /v2/translate like DeepL's API; counts every text it translates."
    def __init__(self, key=KEY):
        self.key, self.fail, self.quota_after, self.drop_after = key, [], None, None
        self.drop_tags = self.echo_auth = False
        self.delay = 0.0
        self.requests, self.statuses, self.order, self.translated = [], [], [], Counter()
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def reply(self, status, obj):
                data = json.dumps(obj).encode()
                fake.statuses.append(status)
                self.send_response(status); self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data))); self.end_headers(); self.wfile.write(data)
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                if 'json' in (self.headers.get('Content-Type') or ''): body = json.loads(raw)
                else: body = {k: (v if k == 'text' else v[0]) for k, v in parse_qs(raw.decode()).items()}
                if fake.delay: time.sleep(fake.delay)
                with fake.lock:
                    auth = self.headers.get('Authorization')
                    fake.requests.append({'path': self.path, 'body': body})
                    if self.path != '/v2/translate': return self.reply(404, {'message': 'not found'})
                    if fake.echo_auth: return self.reply(400, {'message': f'cannot parse request from {auth}'})
                    if auth != f'DeepL-Auth-Key {fake.key}': return self.reply(403, {'message': 'Wrong endpoint or key'})
                    if fake.fail: return self.reply(fake.fail.pop(0), {'message': 'please slow down'})
                    texts = body['text'] if isinstance(body['text'], list) else [body['text']]
                    done = sum(fake.translated.values())
                    if fake.quota_after is not None and done + len(texts) > fake.quota_after:
                        return self.reply(456, {'message': 'Quota exceeded'})
                    if fake.drop_after is not None and done + len(texts) > fake.drop_after:
                        fake.statuses.append('dropped')
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if body.get('tag_handling') == 'xml':
                        for t in texts:
                            try: ET.fromstring(f'<r>{t}</r>')
                            except ET.ParseError: return self.reply(400, {'message': f'invalid XML: {t!r}'})
                    out = [PREFIX + t + SUFFIX for t in texts]
                    if fake.drop_tags: out = [re.sub(r'<x i="\d+"/>', '', o) for o in out]
                    fake.translated.update(texts); fake.order.extend(texts)
                res = [{'detected_source_language': 'EN', 'text': o, 'billed_characters': len(t)} for t, o in zip(texts, out)]
                self.reply(200, {'translations': res})

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_port}'
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def received(self):
        "Every text that reached the server, in any request."
        return [t for r in self.requests for t in (r['body'].get('text') or [])]

    def close(self):
        self.httpd.shutdown(); self.httpd.server_close()


@pytest.fixture
def fake():
    f = FakeDeepL()
    yield f
    f.close()


@pytest.fixture
def work(tmp_path):
    "A project folder with the corpus extracted into data/temp."
    write_jsonl(tmp_path/'gold_en.jsonl', EPISODES)
    run_mypt('extract', '--input', 'gold_en.jsonl', cwd=tmp_path, check=0)
    return tmp_path


def translate(work, fake, *args, check=None, key=KEY):
    return run_mypt('translate', '--server_url', fake.url, '--backoff_base', '0.01', '--max_retries', '3', *args,
                    cwd=work, env={'DEEPL_API_KEY': key}, check=check)


def de_lines(work):
    from mypt.bilingual import read_lines
    return (read_lines(work/'data/temp/user_messages_de.txt'), read_lines(work/'data/temp/assistant_messages_de.txt'))


def en_by_role(role):
    return [m['content'] for e in EPISODES for m in e['messages'] if m['role'] == role]


def assert_no_key(*outputs):
    for o in outputs: assert KEY not in o and KEY.split(':')[0] not in o


# ---------------------------------------------------------------- extract / recombine
def test_extract_is_one_line_per_message_and_lossless(work):
    d = work/'data/temp'
    user, asst = (d/'user_messages_en.txt').read_text('utf-8'), (d/'assistant_messages_en.txt').read_text('utf-8')
    assert user.count('\n') == len(en_by_role('user')) and asst.count('\n') == len(en_by_role('assistant'))
    assert '\t' not in user and '\r' not in user and '\u2028' not in user
    assert 'C:\\\\new\\\\table' in user and 'Python?\\tWith' in user      # backslash and tab escapes
    assert 'Grüezi ✓' in asst                                             # unicode written as is
    from mypt.bilingual import read_lines
    assert read_lines(d/'user_messages_en.txt') == en_by_role('user')
    assert read_lines(d/'assistant_messages_en.txt') == en_by_role('assistant')
    rows = [l.split('\t') for l in (d/'episode_ids.txt').read_text().splitlines() if not l.startswith('#')]
    assert [(r[0], int(r[2]), r[3]) for r in rows] == [(e['context'].split(': ')[1], i, m['role'])
                                                       for e in EPISODES for i, m in enumerate(e['messages'])]


def test_identity_recombine_reproduces_episodes(work):
    d = work/'data/temp'
    shutil.copy(d/'user_messages_en.txt', d/'user_messages_de.txt')
    shutil.copy(d/'assistant_messages_en.txt', d/'assistant_messages_de.txt')
    r = run_mypt('recombine', '--original', 'gold_en.jsonl', '--user_translated', d/'user_messages_de.txt',
                 '--assistant_translated', d/'assistant_messages_de.txt', '--output', 'gold_de.jsonl', '--language', 'de',
                 cwd=work, check=0)
    assert 'episode_ids.txt' in r.stdout                                  # checked against the map beside the files
    out = read_jsonl(work/'gold_de.jsonl')
    assert len(out) == len(EPISODES)
    for en, de in zip(EPISODES, out):
        assert de['messages'] == en['messages']
        eid = en['context'].split(': ')[1]
        assert de['context'] == f'episode_id: {eid}_de | language: de'
        assert de['language'] == 'de' and de['source_episode_id'] == eid
        assert {k: v for k, v in de.items() if k not in ('context', 'language', 'source_episode_id')} == \
               {k: v for k, v in en.items() if k != 'context'}


def test_recombine_refuses_a_missing_line(work):
    d = work/'data/temp'
    lines = (d/'assistant_messages_en.txt').read_text('utf-8').splitlines(keepends=True)
    (d/'assistant_messages_de.txt').write_text(''.join(lines[:2] + lines[3:]), 'utf-8')   # drop line 3
    shutil.copy(d/'user_messages_en.txt', d/'user_messages_de.txt')
    (work/'gold_de.jsonl').write_text('previous\n')
    r = run_mypt('recombine', '--original', 'gold_en.jsonl', '--output', 'gold_de.jsonl', cwd=work, check=2)
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err
    assert 'assistant_messages_de.txt' in err and f'line {len(lines)} (episode 0005' in err
    assert 'line 3 is the first whose code blocks differ' in err          # where the shift starts
    assert (work/'gold_de.jsonl').read_text() == 'previous\n'             # untouched


def test_recombine_refuses_extra_lines_bad_escapes_and_a_changed_original(work):
    d = work/'data/temp'
    shutil.copy(d/'assistant_messages_en.txt', d/'assistant_messages_de.txt')
    n = len(en_by_role('user'))
    (d/'user_messages_de.txt').write_text((d/'user_messages_en.txt').read_text('utf-8') + 'one more\n', 'utf-8')
    r = run_mypt('recombine', '--original', 'gold_en.jsonl', '--output', 'x.jsonl', cwd=work, check=2)
    assert f'user_messages_de.txt:{n + 1}: extra line' in r.stderr
    (d/'user_messages_de.txt').write_text((d/'user_messages_en.txt').read_text('utf-8').replace('Thanks!', 'Danke \\q', 1), 'utf-8')
    r = run_mypt('recombine', '--original', 'gold_en.jsonl', '--output', 'x.jsonl', cwd=work, check=2)
    assert 'user_messages_de.txt:2: unknown escape' in r.stderr
    shutil.copy(d/'user_messages_en.txt', d/'user_messages_de.txt')
    swapped = [EPISODES[1], EPISODES[0]] + EPISODES[2:]                    # same counts, different order
    write_jsonl(work/'edited.jsonl', swapped)
    r = run_mypt('recombine', '--original', 'edited.jsonl', '--output', 'x.jsonl', cwd=work, check=2)
    assert 'episode_ids.txt:2:' in r.stderr and 'changed since' in r.stderr
    assert not (work/'x.jsonl').exists()


# ---------------------------------------------------------------- translate
def test_translate_success_code_untouched_batched(work, fake):
    r = translate(work, fake, '--batch_size', '3', check=0)
    user, asst = de_lines(work)
    assert user == [expected_de(t) for t in en_by_role('user')]
    assert asst == [expected_de(t) for t in en_by_role('assistant')]
    for en, de in zip(en_by_role('assistant'), asst):
        assert FENCED.findall(de) == FENCED.findall(en)                       # byte-identical code
    sent = fake.received
    assert not any('CODE-MARK' in t or '```' in t or 'open()' in t for t in sent)   # code never sent
    assert sum(fake.translated.values()) == len(PROSE) and max(fake.translated.values()) == 1
    sizes = [len(q['body']['text']) for q in fake.requests]
    assert max(sizes) == 3 and len(sizes) == -(-len(PROSE) // 3)             # batched, several texts per call
    body = fake.requests[0]['body']
    assert body['tag_handling'] == 'xml' and body['target_lang'] == 'DE' and body['source_lang'] == 'EN'
    assert 'batch 1/' in r.stdout and 'translate: wrote' in r.stdout
    assert_no_key(r.stdout, r.stderr)
    # a second run is served entirely from the cache
    r2 = translate(work, fake, check=0)
    assert sum(fake.translated.values()) == len(PROSE) and '0 to translate' in r2.stdout
    assert de_lines(work) == (user, asst)


def test_translate_swiss_spelling_outside_code(work, fake):
    translate(work, fake, '--swiss', check=0)
    user, asst = de_lines(work)
    assert asst == [expected_de(t, swiss=True) for t in en_by_role('assistant')]
    assert all('ß' not in FENCED.sub('', t) for t in user + asst)
    assert 'größe' in asst[0]                                                  # inside code: unchanged


@pytest.mark.parametrize('statuses', [[429, 429], [500, 503]])
def test_translate_retries_rate_limits_and_server_errors(work, fake, statuses):
    fake.fail = list(statuses)
    r = translate(work, fake, check=0)
    assert fake.statuses[:len(statuses)] == statuses and fake.statuses[len(statuses)] == 200
    assert r.stdout.count('retry') == len(statuses)
    assert de_lines(work)[0] == [expected_de(t) for t in en_by_role('user')]
    assert sum(fake.translated.values()) == len(PROSE)


def test_translate_gives_up_after_max_retries(work, fake):
    fake.fail = [503] * 10
    r = translate(work, fake, check=1)
    assert fake.statuses.count(503) == 4                                       # first try + 3 retries
    assert r.stderr.strip().startswith('mypt translate: error: stopped: DeepL server error (HTTP 503)')
    assert len(r.stderr.strip().splitlines()) == 1 and 'Traceback' not in r.stderr
    assert not (work/'data/temp/user_messages_de.txt').exists()


@pytest.mark.parametrize('mode', ['quota', 'drop'])
def test_stop_then_resume_translates_each_message_once(work, fake, mode):
    (work/'data/temp/user_messages_de.txt').write_text('previous output\n')
    if mode == 'quota': fake.quota_after = 4
    else: fake.drop_after = 4
    r = translate(work, fake, '--batch_size', '2', check=1)
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and 'Traceback' not in err
    assert ('quota exceeded (HTTP 456)' in err) if mode == 'quota' else ('lost the connection' in err)
    assert 'translation_cache.jsonl' in err and 'run the same command again' in err
    assert sum(fake.translated.values()) == 4
    assert (work/'data/temp/user_messages_de.txt').read_text() == 'previous output\n'   # nothing half-written
    assert not (work/'data/temp/assistant_messages_de.txt').exists()
    assert_no_key(r.stdout, r.stderr)
    second = FakeDeepL()
    try:
        r2 = run_mypt('translate', '--server_url', second.url, '--batch_size', '2', cwd=work, env={'DEEPL_API_KEY': KEY}, check=0)
        both = fake.translated + second.translated
        assert sum(both.values()) == len(PROSE) and max(both.values()) == 1      # every message exactly once
        assert not set(fake.translated) & set(second.translated)
        assert '4 in cache' in r2.stdout
    finally:
        second.close()
    user, asst = de_lines(work)
    assert user == [expected_de(t) for t in en_by_role('user')] and asst == [expected_de(t) for t in en_by_role('assistant')]


def test_kill_loses_no_finished_batch(work, fake):
    fake.delay = 0.25
    cmd = [str(BIN/'mypt'), 'translate', '--server_url', fake.url, '--batch_size', '1']
    import os
    p = subprocess.Popen(cmd, cwd=work, env=dict(os.environ, DEEPL_API_KEY=KEY), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache = work/'data/temp/translation_cache.jsonl'
    deadline = time.time() + 30
    while time.time() < deadline and (not cache.exists() or cache.read_text().count('\n') < 3): time.sleep(0.02)
    p.kill(); p.wait()
    cached = cache.read_text().count('\n')
    assert 3 <= cached < len(PROSE)
    first = list(fake.order)
    second = FakeDeepL()
    try:
        run_mypt('translate', '--server_url', second.url, cwd=work, env={'DEEPL_API_KEY': KEY}, check=0)
        assert not set(first[:cached]) & set(second.translated)               # what was cached is never resent
        assert sum(second.translated.values()) <= len(PROSE) - cached
    finally:
        second.close()
    assert de_lines(work)[1] == [expected_de(t) for t in en_by_role('assistant')]


INLINE = re.compile(r'``[^\n]+?``|`[^`\n]+`')


def test_lost_placeholders_are_translated_piecewise(work, fake):
    fake.drop_tags = True                                  # the server loses inline-code placeholders
    translate(work, fake, check=0)
    user, asst = de_lines(work)
    for en, de in zip(en_by_role('user') + en_by_role('assistant'), user + asst):
        assert FENCED.findall(de) == FENCED.findall(en)
        assert sorted(INLINE.findall(FENCED.sub('', de))) == sorted(INLINE.findall(FENCED.sub('', en)))
    assert asst[0].startswith(PREFIX + 'Use' + SUFFIX + ' `open()` ' + PREFIX + 'with a context manager:')
    assert len(fake.requests) > 1                          # the piecewise re-sends


def test_glossary_terms_are_pinned(work, fake):
    (work/'terms.tsv').write_text('# English\tGerman\nfirewall\tFirewall\nSQL injection\tSQL-Injection\ncontext manager\tKontextmanager\n')
    translate(work, fake, '--glossary', 'terms.tsv', check=0)
    user, asst = de_lines(work)
    assert 'Show SQL-Injection in ``a ` tick`` and a Firewall rule.' in user[-2]
    assert 'with a Kontextmanager:' in asst[0] and 'a Firewall does not help' in asst[-2]
    assert any(re.search(r'<g i="\d+">firewall</g>', t) for t in fake.received)
    (work/'bad.csv').write_text('a,b,c\n')
    r = translate(work, fake, '--glossary', 'bad.csv', check=2)
    assert 'bad.csv:1: expected 2 columns' in r.stderr


def test_api_key_from_dotenv_and_never_printed(work, fake):
    (work/'.env').write_text(f'# DeepL\nDEEPL_API_KEY={KEY}\n')
    r = run_mypt('translate', '--server_url', fake.url, cwd=work, env={'DEEPL_API_KEY': ''}, check=0)
    assert_no_key(r.stdout, r.stderr)
    (work/'.env').unlink()
    r = run_mypt('translate', '--server_url', fake.url, cwd=work, env={'DEEPL_API_KEY': ''}, check=2)
    assert 'no DeepL API key' in r.stderr and 'Traceback' not in r.stderr
    before = len(fake.requests)
    r = run_mypt('translate', '--server_url', fake.url, cwd=work, env={'DEEPL_API_KEY': KEY + '\x01x'}, check=2)
    assert 'DEEPL_API_KEY: contains spaces, control' in r.stderr and len(fake.requests) == before
    assert_no_key(r.stdout, r.stderr)


def test_api_key_never_printed_on_errors(work, fake):
    r = translate(work, fake, key=KEY + 'x', check=2)                       # 403: wrong key
    assert 'DeepL rejected the API key (HTTP 403)' in r.stderr
    assert_no_key(r.stdout, r.stderr)
    fake.echo_auth = True                                                     # a server that echoes the key back
    r = translate(work, fake, check=1)
    assert 'DeepL refused the request' in r.stderr and '[DEEPL_API_KEY]' in r.stderr
    assert_no_key(r.stdout, r.stderr)
    dead = FakeDeepL(); url = dead.url; dead.close()                         # nothing listening
    r = run_mypt('translate', '--server_url', url, '--max_retries', '1', '--backoff_base', '0', cwd=work,
                 env={'DEEPL_API_KEY': KEY}, check=1)
    assert 'lost the connection' in r.stderr
    assert_no_key(r.stdout, r.stderr)


def test_dry_run_needs_no_key_and_sends_nothing(work, fake):
    r = run_mypt('translate', '--dry_run', cwd=work, env={'DEEPL_API_KEY': ''}, check=0)
    assert f'{len(PROSE)} to send' in r.stdout and fake.requests == []


def test_translate_usage_errors(work):
    assert 'between 1 and 50' in run_mypt('translate', '--batch_size', '51', cwd=work, check=2).stderr
    r = run_mypt('translate', '--input_dir', 'nowhere', cwd=work, env={'DEEPL_API_KEY': KEY}, check=2)
    assert 'nowhere/user_messages_en.txt: no such file' in r.stderr


# ---------------------------------------------------------------- full workflow and merge
def _german(work, fake):
    translate(work, fake, '--swiss', check=0)
    run_mypt('recombine', '--original', 'gold_en.jsonl', '--output', 'gold_de.jsonl', cwd=work, check=0)
    return read_jsonl(work/'gold_de.jsonl')


def test_full_workflow_and_merge(work, fake):
    de = _german(work, fake)
    assert [m['content'] for e in de for m in e['messages']] == [expected_de(t, swiss=True) for t in ALL_MESSAGES]
    r = run_mypt('merge', '--english', 'gold_en.jsonl', '--german', 'gold_de.jsonl', '--output', 'bi.jsonl', cwd=work, check=0)
    bi = read_jsonl(work/'bi.jsonl')
    assert len(bi) == 2 * len(EPISODES) and f'{len(EPISODES)} pairs' in r.stdout and r.stderr == ''
    assert [e['language'] for e in bi] == ['en', 'de'] * len(EPISODES)
    assert [e['messages'] for e in bi[::2]] == [e['messages'] for e in EPISODES]
    assert all(b['source_episode_id'] == a['context'].split(': ')[1] for a, b in zip(bi[::2], bi[1::2]))
    # shuffle: same seed, same bytes; another seed, another order; same episodes either way
    outs = {}
    for name, seed in (('s1', '7'), ('s2', '7'), ('s3', '8')):
        run_mypt('merge', '--english', 'gold_en.jsonl', '--german', 'gold_de.jsonl', '--output', f'{name}.jsonl', '--shuffle', '--seed', seed, cwd=work, check=0)
        outs[name] = (work/f'{name}.jsonl').read_bytes()
    assert outs['s1'] == outs['s2'] != outs['s3']
    key = lambda e: json.dumps(e, sort_keys=True)
    assert sorted(map(key, read_jsonl(work/'s1.jsonl'))) == sorted(map(key, bi))
    run_mypt('merge', '--english', 'gold_en.jsonl', '--german', 'gold_de.jsonl', '--output', 'd.jsonl', '--shuffle', cwd=work, check=0)
    run_mypt('merge', '--english', 'gold_en.jsonl', '--german', 'gold_de.jsonl', '--output', 'd42.jsonl', '--shuffle', '--seed', '42', cwd=work, check=0)
    assert (work/'d.jsonl').read_bytes() == (work/'d42.jsonl').read_bytes()      # the documented default seed


def test_merge_reports_missing_counterparts(work, fake):
    de = _german(work, fake)
    write_jsonl(work/'de_part.jsonl', de[:3])
    r = run_mypt('merge', '--english', 'gold_en.jsonl', '--german', 'de_part.jsonl', '--output', 'bi.jsonl', cwd=work, check=0)
    assert 'warning: 2 English episodes have no German counterpart: 0004, 0005' in r.stderr
    assert len(read_jsonl(work/'bi.jsonl')) == len(EPISODES) + 3
    (work/'bi.jsonl').write_text('kept\n')
    write_jsonl(work/'orphan.jsonl', de[:2] + [dict(de[2], source_episode_id='0099', context='episode_id: 0099_de | language: de')])
    r = run_mypt('merge', '--english', 'gold_en.jsonl', '--german', 'orphan.jsonl', '--output', 'bi.jsonl', cwd=work, check=2)
    assert "orphan.jsonl:3: source_episode_id: no English episode '0099'" in r.stderr
    assert (work/'bi.jsonl').read_text() == 'kept\n'
    write_jsonl(work/'twice.jsonl', de[:2] + [de[1]])
    r = run_mypt('merge', '--english', 'gold_en.jsonl', '--german', 'twice.jsonl', '--output', 'bi.jsonl', cwd=work, check=2)
    assert 'twice.jsonl:3' in r.stderr and 'second translation' in r.stderr


def test_recombine_reproduces_the_bundled_german_set(tmp_path):
    "extract + the German set's own messages + recombine == data/sample/gold_de.jsonl, byte for byte."
    from mypt.core import sample_dir
    from mypt.bilingual import write_lines
    en, de = sample_dir()/'gold_en.jsonl', sample_dir()/'gold_de.jsonl'
    if not de.exists(): pytest.skip('no bundled German set')
    run_mypt('extract', '--input', en, '--output_dir', tmp_path, check=0)
    eps = read_jsonl(de)
    for role in ('user', 'assistant'):
        write_lines(tmp_path/f'{role}_messages_de.txt', [m['content'] for e in eps for m in e['messages'] if m['role'] == role])
    run_mypt('recombine', '--original', en, '--user_translated', tmp_path/'user_messages_de.txt',
             '--assistant_translated', tmp_path/'assistant_messages_de.txt', '--output', tmp_path/'de.jsonl', check=0)
    assert (tmp_path/'de.jsonl').read_bytes() == de.read_bytes()
