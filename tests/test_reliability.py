"Reliability: bad input, crashes, full disks and read-only folders never lose data or fail silently."
import ctypes, errno, json, os, resource, shutil, signal, subprocess, tempfile
from pathlib import Path
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from conftest import ROOT, BIN, run_mypt
import mypt.cli
from mypt.core import InputError
from mypt.tokens import Tokenizer, SPECIAL_TOKENS, GPT2_VOCAB, ENDOFTEXT_ID
from mypt.episodes import check_episode, encode_episode, episode_text, read_episodes, write_episodes
from mypt import prepare as P
from mypt.data import GPTEpisodeDataLoader, MemorySplit, PAD_ID
from mypt.train import load_config

TOK = Tokenizer()
FIXTURES = Path(__file__).parent/'fixtures'
BAD, GOOD = FIXTURES/'bad', FIXTURES/'good'
TINY = ROOT/'configs'/'cpu'/'tiny_test.json'

def tree(d):
    "Relative path -> bytes of every file under d."
    d = Path(d)
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob('*')) if p.is_file()}

def listing(d, hidden=True):
    return sorted(p.name for p in Path(d).iterdir() if hidden or not p.name.startswith('.'))

def one_line(stderr):
    "The single line a failing command printed on stderr."
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f'expected one line on stderr, got {len(lines)}:\n{stderr}'
    assert 'Traceback' not in stderr
    return lines[0]

# --- bad input files ------------------------------------------------------------------------------

LONE_SURROGATE = 'lone surrogates are accepted and silently encoded as U+FFFD (check_episode does not refuse them)'
DUPLICATE_IDS = 'duplicate episode ids are accepted by validate and prepare'

# file: (line, field, what the message says (or one of these), does read_episodes alone refuse it?, known bug)
BAD_CASES = {
    'invalid_json.jsonl':        (2, None, 'invalid JSON: Expecting value', True, None),
    'truncated_last_line.jsonl': (2, None, '(truncated line?)', True, None),
    'top_level_array.jsonl':     (2, None, 'expected a JSON object with "messages", got list', True, None),
    'missing_messages.jsonl':    (2, 'messages', 'missing', True, None),
    'empty_messages.jsonl':      (2, 'messages', 'empty', True, None),
    'unknown_role.jsonl':        (2, 'messages[1].role', "expected 'user' or 'assistant', got 'admin'", True, None),
    'non_string_content.jsonl':  (2, 'messages[1].content', 'expected a string, got int', True, None),
    'empty_content.jsonl':       (2, 'messages[1].content', 'empty', True, None),
    'no_assistant_turn.jsonl':   (2, 'messages', 'no assistant message', True, None),
    'invalid_utf8.jsonl':        (2, None, 'invalid UTF-8 at byte', True, None),
    'nul_escaped.jsonl':         (2, 'messages[1].content', 'contains a NUL character', True, None),
    'nul_raw.jsonl':             (2, None, 'invalid JSON: Invalid control character', True, None),
    'lone_surrogate.jsonl':      (2, 'messages[0].content', 'invalid unicode (lone surrogate)', True, None),
    'too_long.jsonl':            (2, None, 'block_size + 1 = 1025', False, None),
    'duplicate_ids.jsonl':       (2, 'context', "duplicate episode id 'r0001'", False, None),
    'empty.jsonl':               (None, None, ('no episodes (empty file)', 'no valid episodes'), False, None),
}

def test_every_bad_fixture_is_listed():
    assert sorted(p.name for p in BAD.glob('*.jsonl')) == sorted(BAD_CASES)

def _cases():
    "One parameter per bad file; a known bug marks its case as an expected failure until it is fixed."
    return [pytest.param(name, marks=[pytest.mark.xfail(strict=True, reason=bug)] if bug else [], id=name.removesuffix('.jsonl'))
            for name, (*_, bug) in BAD_CASES.items()]

def check_message(line, path, name, cmd=None):
    "The one line names the command, the file, the line and the field, and says what is wrong."
    n, field, what, *_ = BAD_CASES[name]
    if cmd: assert line.startswith(f'mypt {cmd}: error: '), line
    where = f'{path}:{n}: ' if n is not None else f'{path}: '
    assert where in line, (where, line)
    if field: assert f'{where}{field}: ' in line, (field, line)
    assert any(w in line for w in ((what,) if isinstance(what, str) else what)), (what, line)

@pytest.mark.parametrize('name', _cases())
def test_validate_rejects_bad_file(name):
    path = BAD/name
    r = run_mypt('validate', path, check=2)
    check_message(one_line(r.stderr), path, name, 'validate')

@pytest.fixture(scope='module')
def good_dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp('good')/'ds'
    P.prepare(GOOD/'bom.jsonl', d)
    return d

@pytest.mark.parametrize('name', _cases())
def test_prepare_rejects_bad_file_and_keeps_old_dataset(name, good_dataset, tmp_path):
    out = tmp_path/'ds'; shutil.copytree(good_dataset, out)
    before, names = tree(out), listing(tmp_path)
    path = BAD/name
    r = run_mypt('prepare', '--input', path, '--output_dir', out, check=2)
    check_message(one_line(r.stderr), path, name, 'prepare')
    assert tree(out) == before
    assert listing(tmp_path) == names                # no new folder, no temporary folder left behind

@pytest.mark.parametrize('name', _cases())
def test_python_api_raises_input_error(name, tmp_path):
    path = BAD/name
    if BAD_CASES[name][3]:
        with pytest.raises(InputError) as e: read_episodes(path)
        check_message(str(e.value), path, name)
    with pytest.raises(InputError) as e: P.prepare(path, tmp_path/'new')
    check_message(str(e.value), path, name)
    assert not (tmp_path/'new').exists() and listing(tmp_path) == []

@pytest.mark.parametrize('name', ['truncated_last_line.jsonl', 'nul_raw.jsonl'])
def test_json_errors_read_cleanly(name):
    with pytest.raises(InputError) as e: read_episodes(BAD/name)
    assert ' at at ' not in str(e.value) and ' at column ' in str(e.value), str(e.value)

@pytest.mark.parametrize('cmd', ['validate', 'prepare'])
def test_missing_file_and_folder_given_as_file(cmd, tmp_path):
    for path, what in ((tmp_path/'nope.jsonl', 'no such file'), (tmp_path, 'is a directory')):
        args = ('validate', path) if cmd == 'validate' else ('prepare', '--input', path, '--output_dir', tmp_path/'out')
        line = one_line(run_mypt(*args, check=2).stderr)
        assert line.startswith(f'mypt {cmd}: error: {path}: ') and what in line, line
    assert not (tmp_path/'out').exists()

def test_output_dir_that_is_a_file_is_refused(tmp_path):
    f = tmp_path/'notes.txt'; f.write_text('keep me')
    line = one_line(run_mypt('prepare', '--input', GOOD/'bom.jsonl', '--output_dir', f, check=2).stderr)
    assert f'{f}: exists and is not a prepared dataset' in line
    assert f.read_text() == 'keep me' and listing(tmp_path) == ['notes.txt']

# --- good input files -----------------------------------------------------------------------------

GOOD_FILES = sorted(p.name for p in GOOD.glob('*.jsonl'))

@pytest.mark.parametrize('name', GOOD_FILES)
def test_good_file_passes_validate_and_prepare(name, tmp_path):
    path = GOOD/name
    r = run_mypt('validate', path, check=0)
    assert r.stdout.strip().endswith('OK') and r.stderr == ''
    run_mypt('prepare', '--input', path, '--output_dir', tmp_path/'ds', '--val_split', '0', check=0)
    eps = read_episodes(path)
    ds = P.open_dataset(tmp_path/'ds', full=True)
    train = ds.split('train')
    assert len(train) == len(eps) == P.open_dataset(tmp_path/'ds').meta['num_train_episodes'] and len(ds.split('val')) == 0
    for i, ep in enumerate(eps):
        ids, mask = train.episode(i)
        assert (ids.tolist(), mask.tolist()) == encode_episode(ep, TOK)
        assert TOK.decode(ids.tolist()) == episode_text(ep)

def test_bom_crlf_blank_lines_and_missing_final_newline_read_the_same():
    plain = [json.loads(l) for l in (GOOD/'no_final_newline.jsonl').read_text(encoding='utf-8').split('\n')]
    for name in ('bom.jsonl', 'crlf.jsonl', 'blank_lines.jsonl', 'no_final_newline.jsonl'):
        eps = read_episodes(GOOD/name)
        assert eps == plain, name
        assert not any('\r' in m['content'] or '\ufeff' in m['content'] for e in eps for m in e['messages'])
    raw = {n: (GOOD/n).read_bytes() for n in ('bom.jsonl', 'crlf.jsonl', 'blank_lines.jsonl')}
    assert raw['bom.jsonl'].startswith(b'\xef\xbb\xbf') and b'\r\n' in raw['crlf.jsonl'] and b'\n\n' in raw['blank_lines.jsonl']

def test_literal_tags_in_content_are_ordinary_text(tmp_path):
    path = GOOD/'literal_tags.jsonl'
    eps = read_episodes(path)
    assert sum(t in json.dumps(eps) for t in ('<myPT_assistant>', '</myPT_user>', '<|endoftext|>', '<myPT_eot>')) == 4
    P.prepare(path, tmp_path/'ds', val_split=0)
    train = P.open_dataset(tmp_path/'ds', full=True).split('train')
    for i, ep in enumerate(eps):
        ids = train.episode(i)[0].tolist()
        n_segments = bool(ep.get('system')) + bool(ep.get('context')) + len(ep['messages'])
        assert sum(t >= GPT2_VOCAB for t in ids) == 2 * n_segments + 1     # only the serializer's tags
        assert ENDOFTEXT_ID not in ids                                      # a typed <|endoftext|> stays text
        assert TOK.decode(ids) == episode_text(ep)

def test_translations_are_not_duplicate_ids(tmp_path):
    m = P.prepare(GOOD/'translation_pair.jsonl', tmp_path/'ds', val_split=0.5)
    assert m['num_groups'] == 1 and m['num_train_episodes'] == 2      # one group, kept together

def test_check_episode_refuses_a_lone_surrogate():
    ep = json.loads('{"system": "ok", "messages": [{"role": "user", "content": "half \\ud83d here"}, {"role": "assistant", "content": "ok"}]}')
    with pytest.raises(InputError) as e: check_episode(ep, 'x.jsonl', 7)
    assert str(e.value) == 'x.jsonl:7: messages[0].content: invalid unicode (lone surrogate)'
    ep['messages'][0]['content'] = 'fine'; ep['system'] = 'bad \udc00'
    with pytest.raises(InputError, match='x.jsonl:7: system: invalid unicode'): check_episode(ep, 'x.jsonl', 7)

def test_escaped_surrogate_pair_is_one_character():
    ep = json.loads('{"messages": [{"role": "user", "content": "smile \\ud83d\\ude00"}, {"role": "assistant", "content": "ok"}]}')
    assert check_episode(ep)['messages'][0]['content'] == 'smile 😀'
    assert TOK.decode(encode_episode(ep, TOK)[0]) == episode_text(ep)

# --- properties of the serializer, the dataset writer and the loader -------------------------------

SNIPPETS = ['<myPT_assistant>', '</myPT_assistant>', '<myPT_user>', '</myPT_user_context>', '<myPT_eot>', '<myPT_system>',
            '<myPT_think>', '<|endoftext|>', '```python\nprint("hi")\n```\n', '```', '\t', '\n', '\r\n', '  ', ' ',
            '\u00a0', 'e\u0301', 'n\u0303o', 'שלום', 'مرحبا', '\u200f', '\u200d', '😀', '👩\u200d👩\u200d👧', '🇨🇭',
            'Grüezi', '日本語', '\ufeff', '\u2028', '\x85', '{"role": "user"}', '\\u0000']
CHARS = st.characters(exclude_categories=('Cs',), exclude_characters='\x00')   # lone surrogates cannot be UTF-8
content = st.lists(st.one_of(st.text(CHARS, max_size=12), st.sampled_from(SNIPPETS)), min_size=1, max_size=8) \
            .map(''.join).filter(lambda s: s.strip() != '')

@st.composite
def episodes(draw):
    ep = {}
    if draw(st.booleans()): ep['system'] = draw(content)
    if draw(st.booleans()): ep['context'] = draw(content)
    ep['messages'] = [{'role': r, 'content': draw(content)} for _ in range(draw(st.integers(1, 6))) for r in ('user', 'assistant')]
    return ep

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
S = SPECIAL_TOKENS

def expected_tags(ep):
    "The special ids the serializer must emit, from the episode's structure alone."
    tags = []
    if ep.get('system'): tags += [S['<myPT_system>'], S['</myPT_system>']]
    if ep.get('context'): tags += [S['<myPT_user_context>'], S['</myPT_user_context>']]
    for m in ep['messages']: tags += [S[f'<myPT_{m["role"]}>'], S[f'</myPT_{m["role"]}>']]
    return tags + [S['<myPT_eot>']]

def assistant_spans_mask(ids):
    "1 from each <myPT_assistant> through its </myPT_assistant>, 0 elsewhere."
    out, inside = [], False
    for i in ids:
        if i == S['<myPT_assistant>']: inside = True
        out.append(int(inside))
        if i == S['</myPT_assistant>']: inside = False
    return out

@FAST
@given(episodes())
def test_serializer_decodes_exactly_and_masks_only_assistant_spans(ep):
    check_episode(ep)
    ids, mask = encode_episode(ep, TOK)
    assert TOK.decode(ids) == episode_text(ep)
    special = [i for i in ids if i >= GPT2_VOCAB]
    assert special == expected_tags(ep)                       # content never yields a special id
    assert ENDOFTEXT_ID not in ids
    assert mask == assistant_spans_mask(ids)
    # each segment's body decodes back to exactly its content
    pos = [j for j, i in enumerate(ids) if i >= GPT2_VOCAB]
    texts = [t for t in (ep.get('system'), ep.get('context')) if t] + [m['content'] for m in ep['messages']]
    for k, text in enumerate(texts):
        assert TOK.decode(ids[pos[2*k] + 1:pos[2*k + 1]]) == text

@FAST
@given(st.lists(episodes(), min_size=1, max_size=6))
def test_write_prepare_open_round_trip(eps):
    with tempfile.TemporaryDirectory() as d:
        src, out = Path(d)/'gold.jsonl', Path(d)/'ds'
        write_episodes(src, eps)
        assert read_episodes(src) == eps
        meta = P.prepare(src, out, val_split=0)
        ds = P.open_dataset(out, full=True)
        train = ds.split('train')
        assert meta['num_val_episodes'] == len(ds.split('val')) == 0 and len(train) == len(eps)
        for i, ep in enumerate(eps):
            ids, mask = train.episode(i)
            assert (ids.tolist(), mask.tolist()) == encode_episode(ep, TOK)

@st.composite
def loader_setups(draw):
    T = draw(st.integers(4, 24))
    lengths = draw(st.lists(st.integers(1, T + 1), min_size=1, max_size=30))
    min_tokens = draw(st.sampled_from([0, 0, 3, 6]))
    assume(any(L >= max(min_tokens, 2) for L in lengths))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    eps = [(np.concatenate([[i], rng.integers(1000, 50275, L - 1)]), rng.integers(0, 2, L)) for i, L in enumerate(lengths)]
    return dict(eps=eps, T=T, min_tokens=min_tokens, B=draw(st.integers(1, 4)), world=draw(st.integers(1, 2)),
                drop_last=draw(st.booleans()), shuffle=draw(st.booleans()), seed=draw(st.integers(0, 1000)))

def row_episodes(b, r, eps, T, packed):
    "Walk one row of a batch: which episodes it holds, checking each is whole and padding is inert."
    x, y, m = (b[k][r].tolist() for k in ('x', 'y', 'mask'))
    at, found = 0, []
    while at < T and x[at] != PAD_ID:              # every episode starts with its own index, never PAD_ID
        i = x[at]; ids, mask = eps[i]; n = len(ids) - 1
        assert x[at:at+n] == ids[:-1].tolist() and y[at:at+n] == ids[1:].tolist() and m[at:at+n] == mask[1:].tolist()
        if packed:
            assert b['doc'][r][at:at+n].tolist() == [len(found)] * n        # one doc id per episode ...
            assert b['pos'][r][at:at+n].tolist() == list(range(n))          # ... and positions restart at 0
        found.append(i); at += n
        if not packed: break
    assert x[at:] == [PAD_ID] * (T - at) and y[at:] == [PAD_ID] * (T - at) and m[at:] == [0] * (T - at)
    if packed and at < T:
        assert b['doc'][r][at:].tolist() == [len(found)] * (T - at) and b['pos'][r][at:].tolist() == list(range(T - at))
    return found

@FAST
@given(loader_setups(), st.sampled_from(['epoch', 'packed']))
def test_loader_rows_are_whole_episodes_in_epoch_order(s, mode):
    split, T, packed = MemorySplit(s['eps']), s['T'], mode == 'packed'
    eligible = [i for i, (ids, _) in enumerate(s['eps']) if len(ids) >= max(s['min_tokens'], 2)]
    loaders = [GPTEpisodeDataLoader(split, s['B'], T, mode, s['seed'], s['shuffle'], s['drop_last'], s['min_tokens'],
                                    rank=r, world_size=s['world']) for r in range(s['world'])]
    order = loaders[0].epoch_order(0).tolist()
    assert sorted(order) == eligible and (s['shuffle'] or order == eligible)
    seen = []
    for _ in range(loaders[0].batches_per_epoch):
        for dl in loaders:
            b = dl.get_batch()
            assert b['x'].shape == (s['B'], T) and (not packed or b['doc'].shape == (s['B'], T))
            for r in range(s['B']): seen += row_episodes(b, r, s['eps'], T, packed)
    assert seen == order[:len(seen)]                           # whole episodes, in the epoch's order, none twice
    if not s['drop_last']: assert len(seen) == len(order)       # and every eligible episode once

# --- full disk and read-only folders ----------------------------------------------------------------

def _drop_dac_override():
    "Give up root's right to write into folders without write permission (from the next exec on)."
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):   # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, from the bounding set: lost at exec
        if libc.prctl(24, cap, 0, 0, 0) != 0: raise OSError(ctypes.get_errno(), 'prctl(PR_CAPBSET_DROP)')

def mypt_limited(*args, file_size=None, read_only=False, timeout=600):
    "Run `mypt` with at most `file_size` bytes per written file (a full disk), or without root's write override."
    def pre():
        if file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # a write past the limit fails with EFBIG instead
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
        if read_only and os.geteuid() == 0: _drop_dac_override()
    return subprocess.run([str(BIN/'mypt'), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=pre, env=dict(os.environ, PYTHONUNBUFFERED='1'))

SAMPLE = ROOT/'data'/'sample'/'gold_en.jsonl'     # its dataset is far larger than the 64 KiB "disk"
ENV_ERRORS = ('mypt.cli.main lets OSError escape: a full disk or a read-only folder prints a traceback '
              'instead of one line "mypt CMD: error: <strerror>: <file>" with exit status 1')
SAFETENSORS_ERRORS = ENV_ERRORS + '; and save_checkpoint lets SafetensorError (not an OSError) escape on a full disk'

def check_environment_error(rc, stderr, cmd, *words):
    "An environment failure: exit 1 and one line that says what went wrong."
    assert rc == 1, (rc, stderr)
    line = one_line(stderr)
    assert line.startswith(f'mypt {cmd}: error: ') and all(w in line for w in words), line

@pytest.fixture(scope='module')
def read_only_enforced(tmp_path_factory):
    "Skip where a folder without write permission cannot be made to refuse this user (root that cannot drop it)."
    d = tmp_path_factory.mktemp('probe'); d.chmod(0o555)
    try:
        try: r = subprocess.run(['touch', str(d/'x')], capture_output=True, preexec_fn=_drop_dac_override if os.geteuid() == 0 else None)
        except subprocess.SubprocessError as e: pytest.skip(f'cannot give up the right to write into read-only folders: {e}')
        if r.returncode == 0: pytest.skip('this user writes into folders without write permission')
    finally: d.chmod(0o755)

FAULTS = {'disk full': 'File too large', 'read-only folder': 'Permission denied'}   # fault: what the user reads

def run_with_fault(request, tmp_path_factory, fault, old, disk_size, args):
    "Copy the earlier output `old` into a fresh folder, then run `mypt *args(folder, copy)` with `fault`."
    if fault == 'read-only folder': request.getfixturevalue('read_only_enforced')
    parent = tmp_path_factory.mktemp('fault'); target = parent/old.name; shutil.copytree(old, target)
    before, names = tree(target), listing(parent)
    if fault == 'read-only folder': parent.chmod(0o555)
    try: r = mypt_limited(*args(parent, target), file_size=disk_size if fault == 'disk full' else None, read_only=fault == 'read-only folder')
    finally: parent.chmod(0o755)
    return dict(r=r, target=target, parent=parent, before=before, names=names)

@pytest.fixture(scope='module', params=list(FAULTS))
def prepare_fault(request, tmp_path_factory, good_dataset):
    "`mypt prepare` of the sample set over an earlier dataset, on a 64 KiB disk or in a read-only folder."
    return request.param, run_with_fault(request, tmp_path_factory, request.param, good_dataset, 64 << 10,
                                         lambda parent, ds: ('prepare', '--input', SAMPLE, '--output_dir', ds))

def test_prepare_fault_keeps_old_dataset(prepare_fault):
    _, f = prepare_fault
    assert f['r'].returncode != 0, f['r'].stdout
    assert tree(f['target']) == f['before'] and listing(f['parent']) == f['names']    # temporary folder removed too
    P.open_dataset(f['target'], full=True)

def test_prepare_fault_is_one_line_exit_1(prepare_fault):
    fault, f = prepare_fault
    check_environment_error(f['r'].returncode, f['r'].stderr, 'prepare', FAULTS[fault])

def _oserror(code):
    def fail(path, *a, **k): raise OSError(code, os.strerror(code), str(path))
    return fail

def _simulate(monkeypatch, fault, parent):
    "No space left while writing the metadata (after all the data), or no right to create the temporary folder."
    if fault == 'no space':
        monkeypatch.setattr(P, 'write_json', _oserror(errno.ENOSPC))
    else:
        real = tempfile.mkdtemp
        def mkdtemp(*a, dir=None, **k):
            if dir is not None and Path(dir) == parent: raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dir))
            return real(*a, dir=dir, **k)
        monkeypatch.setattr(tempfile, 'mkdtemp', mkdtemp)

@pytest.mark.parametrize('fault', ['no space', 'permission denied'])
def test_simulated_fault_in_process_keeps_old_dataset(fault, good_dataset, tmp_path, monkeypatch):
    ds = tmp_path/'ds'; shutil.copytree(good_dataset, ds)
    before, names = tree(ds), listing(tmp_path)
    _simulate(monkeypatch, fault, tmp_path)
    with pytest.raises(OSError) as e: P.prepare(SAMPLE, ds)
    assert e.value.errno == (errno.ENOSPC if fault == 'no space' else errno.EACCES)
    assert tree(ds) == before and listing(tmp_path) == names

@pytest.mark.parametrize('fault,words', [('no space', ('No space left on device',)), ('permission denied', ('Permission denied',))])
def test_simulated_fault_in_process_is_one_line_exit_1(fault, words, good_dataset, tmp_path, monkeypatch, capsys):
    ds = tmp_path/'ds'; shutil.copytree(good_dataset, ds)
    _simulate(monkeypatch, fault, tmp_path)
    rc = mypt.cli.main(['prepare', '--input', str(SAMPLE), '--output_dir', str(ds)])
    check_environment_error(rc, capsys.readouterr().err, 'prepare', *words, str(tmp_path))

# --- training: checkpoints on a full disk or in a read-only folder -----------------------------------

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A prepared sample dataset, a tiny config, and a finished checkpoint."
    root = tmp_path_factory.mktemp('train')
    P.prepare(SAMPLE, root/'ds', val_split=0.1)
    cfg = root/'tiny.json'
    cfg.write_text(json.dumps({**json.loads(TINY.read_text()), 'max_iters': 2, 'eval_interval': 2, 'eval_iters': 1}))
    run_mypt('train', '--model_name', 'm', '--config_file', cfg, '--dataset_dir', root/'ds', '--out_dir', root/'ck', check=0)
    return root/'ds', cfg, root/'ck'/'m'

@pytest.fixture(scope='module', params=list(FAULTS))
def train_fault(request, tmp_path_factory, trained):
    "`mypt train` again over an earlier checkpoint, on a 1 MiB disk or in a read-only folder."
    ds, cfg, ck = trained
    return request.param, run_with_fault(request, tmp_path_factory, request.param, ck, 1 << 20,
                                         lambda parent, _: ('train', '--model_name', ck.name, '--config_file', cfg, '--dataset_dir', ds, '--out_dir', parent, '--overwrite'))

def test_train_fault_keeps_old_checkpoint(train_fault):
    _, f = train_fault
    assert f['r'].returncode != 0, f['r'].stdout
    assert tree(f['target']) == f['before']
    assert listing(f['parent'], hidden=False) == [n for n in f['names'] if not n.startswith('.')]
    assert not [p for p in f['parent'].iterdir() if p.name.endswith('.tmp')]        # no half-written checkpoint

def test_train_fault_is_one_line_exit_1(train_fault, request):
    fault, f = train_fault
    check_environment_error(f['r'].returncode, f['r'].stderr, 'train', FAULTS[fault])

# --- configs and datasets from elsewhere ----------------------------------------------------------

def test_foreign_tokenizer_is_refused_before_training(trained, tmp_path):
    ds, cfg, _ = trained
    d = tmp_path/'ds'; shutil.copytree(ds, d)
    state = json.loads((d/'tokenizer_state.json').read_text())
    state['special_tokens']['<myPT_assistant>'] = 50300
    (d/'tokenizer_state.json').write_text(json.dumps(state))
    r = run_mypt('train', '--model_name', 'x', '--config_file', cfg, '--dataset_dir', d, '--out_dir', tmp_path/'ck', check=2)
    line = one_line(r.stderr)
    assert line.startswith(f'mypt train: error: {d}/tokenizer_state.json: tokenizer state differs from this build'), line
    assert "'<myPT_assistant>'" in line and '50261' in line and '50300' in line
    assert 'step 0' not in r.stdout and not (tmp_path/'ck').exists()
    line = one_line(run_mypt('validate', d, check=2).stderr)
    assert line.startswith(f'mypt validate: error: {d}/tokenizer_state.json: ')

TRAIN_KEY_FILE = 'parse_config does not name the config file for type errors of TrainConfig keys'
TYPE_CASES = [('bias', 'false', False), ('use_checkpoint', 1, False), ('use_loss_mask', 'false', False),
              ('epoch_shuffle', 0, False), ('epoch_drop_last', None, False), ('compile', 'yes', False),
              ('keep_best', 'true', False), ('batch_size', 2.0, False), ('max_iters', '10', False)]

def _config(tmp_path, key, value):
    p = tmp_path/'cfg.json'; p.write_text(json.dumps({**json.loads(TINY.read_text()), key: value})); return p

@pytest.mark.parametrize('key,value', [(k, v) for k, v, _ in TYPE_CASES])
def test_config_values_of_the_wrong_type_are_refused(key, value, tmp_path):
    with pytest.raises(InputError) as e: load_config(_config(tmp_path, key, value))
    assert e.value.field == key and repr(value) in e.value.message, str(e.value)

@pytest.mark.parametrize('key,value', [pytest.param(k, v, marks=[pytest.mark.xfail(strict=True, reason=TRAIN_KEY_FILE)] if bug else [])
                                       for k, v, bug in TYPE_CASES])
def test_config_type_errors_name_the_file(key, value, tmp_path):
    p = _config(tmp_path, key, value)
    with pytest.raises(InputError) as e: load_config(p)
    assert str(e.value).startswith(f'{p}: {key}: '), str(e.value)

@pytest.mark.parametrize('key', ['bias', 'use_loss_mask'])
def test_mypt_train_refuses_a_string_for_a_bool(key, trained, tmp_path):
    ds, _, _ = trained
    r = run_mypt('train', '--model_name', 'x', '--config_file', _config(tmp_path, key, 'false'), '--dataset_dir', ds,
                 '--out_dir', tmp_path/'ck', check=2)
    line = one_line(r.stderr)
    assert line.startswith('mypt train: error: ') and f"{key}: expected" in line and "'false'" in line
    assert not (tmp_path/'ck').exists()

# --- what is left on disk is readable like any other file ------------------------------------------

def test_dataset_files_get_the_permissions_of_a_plain_write(tmp_path):
    old = os.umask(0o022)
    try: P.prepare(GOOD/'bom.jsonl', tmp_path/'ds')
    finally: os.umask(old)
    wrong = {p.relative_to(tmp_path).as_posix(): oct(p.stat().st_mode & 0o777) for p in [tmp_path/'ds', *(tmp_path/'ds').rglob('*')]
             if p.stat().st_mode & 0o777 != (0o755 if p.is_dir() else 0o644)}
    assert not wrong, wrong
