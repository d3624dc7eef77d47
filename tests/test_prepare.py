"Dataset preparation: gold JSONL -> episode-indexed binary dataset, token streams, mixing, and the reader's checks."
import json, os, random, shutil, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
from conftest import BIN, run_mypt
from mypt.core import InputError
from mypt.tokens import Tokenizer, ENDOFTEXT_ID
from mypt.episodes import encode_episode, episode_text, iter_episodes, write_episodes
from mypt import prepare as P
from mypt import dataset as D

TOK = Tokenizer()
WORDS = ('the a secure query input hash password Datenschutz Gericht Vertrag function loop file error '
         'Grüezi über Strasse naïve café 😀 SQL TLS certificate Bundesgericht Art. 32 OR x=1 {"k": [1, 2]} '
         '</myPT_user> <myPT_assistant> <|endoftext|> \t tab  two  spaces\nnewline').split(' ')

def _text(r, a, b): return ' '.join(['Note:'] + [r.choice(WORDS) for _ in range(r.randint(a, b))])

def make_episodes(n_groups, seed=0, de=True, answer=(5, 40), categories=('technical_qa', 'how_to', 'denial')):
    "EN episodes with ids g0000.., each followed (optionally) by its German translation g0000_de."
    r = random.Random(seed); eps = []
    for g in range(n_groups):
        turns = r.choice([1, 1, 2])
        msgs = [m for _ in range(turns) for m in ({'role': 'user', 'content': _text(r, 2, 12)},
                                                  {'role': 'assistant', 'content': _text(r, *answer)})]
        cat = r.choice(categories)
        eps.append({'system': 'You are MyPT.', 'context': f'episode_id: g{g:04d}', 'category': cat, 'messages': msgs})
        if de:
            eps.append({'system': 'Du bist MyPT.', 'context': f'episode_id: g{g:04d}_de | language: de', 'language': 'de',
                        'source_episode_id': f'g{g:04d}', 'category': cat,
                        'messages': [{**m, 'content': 'DE ' + m['content']} for m in msgs]})
    return eps

def tree(d):
    "Relative path -> bytes of every file under d."
    d = Path(d)
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob('*')) if p.is_file()}

def expected_by_split(path, meta):
    "Input episodes of each split, in file order, from the val groups the metadata lists."
    val = set(meta['val_groups']); out = {'train': [], 'val': []}
    for n, ep in iter_episodes(path):
        out['val' if P.group_key(ep, n) in val else 'train'].append(ep)
    return out

EPOCH = {'SOURCE_DATE_EPOCH': '1767225600'}

@pytest.fixture(scope='module')
def gold(tmp_path_factory):
    d = tmp_path_factory.mktemp('gold')
    write_episodes(d/'gold.jsonl', make_episodes(60, seed=1))
    return d/'gold.jsonl'

# --- encoding -----------------------------------------------------------------------------------

@pytest.mark.parametrize('threads', [1, 3])
def test_batch_encoding_equals_encode_episode(threads):
    eps = make_episodes(80, seed=5)
    eps.append({'messages': [{'role': 'user', 'content': 'x'}, {'role': 'assistant', 'content': 'y'}]})  # no system/context
    ids, mask, lengths = P.encode_episodes(eps, TOK, num_threads=threads)
    assert ids.dtype == np.uint32 and mask.dtype == np.uint8 and len(ids) == len(mask) == lengths.sum()
    pos = 0
    for ep, n in zip(eps, lengths):
        want_ids, want_mask = encode_episode(ep, TOK)
        assert ids[pos:pos+n].tolist() == want_ids and mask[pos:pos+n].tolist() == want_mask
        pos += n

# --- prepare: round trip and layout -------------------------------------------------------------

def test_roundtrip_decode_and_layout(gold, tmp_path):
    out = tmp_path/'ds'
    run_mypt('prepare', '--input', gold, '--output_dir', out, '--val_split', '0.2', check=0)
    ds = P.open_dataset(out, full=True)
    meta = json.loads((out/'dataset_metadata.json').read_text())
    want = expected_by_split(gold, meta)
    assert len(want['val']) == 2 * meta['num_val_groups'] == 24
    for s in ('train', 'val'):
        sp = ds.split(s)
        assert len(sp) == len(want[s]) == meta[f'num_{s}_episodes']
        t = np.fromfile(out/s/'tokens.bin', dtype='<u4'); m = np.fromfile(out/s/'mask.bin', dtype='<u1')
        idx = np.fromfile(out/s/'episodes.idx', dtype='<u8').reshape(-1, 2)
        assert len(t) == len(m) == meta[f'num_{s}_tokens'] and len(idx) == len(want[s])
        assert (out/s/'tokens.bin').stat().st_size == 4 * len(t) and set(np.unique(m)) <= {0, 1}
        assert idx[0, 0] == 0 and (idx[1:, 0] == idx[:-1].sum(1)).all() and idx[-1].sum() == len(t)
        assert meta[f'{s}_mask_ratio'] == pytest.approx(m.mean(), abs=1e-6)
        for i, ((a, n), ep) in enumerate(zip(idx, want[s])):
            w_ids, w_mask = encode_episode(ep, TOK)
            assert t[a:a+n].tolist() == w_ids and m[a:a+n].tolist() == w_mask
            assert TOK.decode(t[a:a+n].tolist()) == episode_text(ep) == D.decode_episode(ds, s, i, TOK)
            got_t, got_m = sp.episode(i)
            assert got_t.tolist() == w_ids and got_m.tolist() == w_mask
    assert (ds.tokenizer().hash == meta['tokenizer_hash'])
    assert meta['source'] == {'file': 'gold.jsonl', 'sha256': __import__('mypt.core').core.sha256_file(gold), 'bytes': gold.stat().st_size}
    for key in ('schema', 'has_loss_mask', 'tokenization', 'block_size', 'seed', 'val_split', 'dropped_long',
                'skipped_invalid', 'length_stats', 'mypt_version', 'created_at', 'shards', 'by_language', 'by_category'):
        assert key in meta, key
    assert meta['by_language']['train']['de']['episodes'] == meta['by_language']['train']['unspecified']['episodes']
    st = meta['length_stats']['train']; L = ds.split('train').lengths
    assert (st['min'], st['max'], st['median']) == (L.min(), L.max(), float(np.median(L)))

def test_same_seed_same_bytes_other_seed_other_split(gold, tmp_path):
    for name, seed in (('a', 42), ('b', 42), ('c', 7)):
        run_mypt('prepare', '--input', gold, '--output_dir', tmp_path/name, '--seed', seed, env=EPOCH, check=0)
    a, b, c = (tree(tmp_path/n) for n in 'abc')
    assert a == b
    ma, mc = (json.loads(x['dataset_metadata.json']) for x in (a, c))
    assert ma['val_groups'] != mc['val_groups'] and a['val/tokens.bin'] != c['val/tokens.bin']
    assert ma['num_val_groups'] == mc['num_val_groups'] == 6
    # without SOURCE_DATE_EPOCH only created_at may differ
    run_mypt('prepare', '--input', gold, '--output_dir', tmp_path/'d', check=0)
    d = tree(tmp_path/'d'); md = json.loads(d.pop('dataset_metadata.json')); ma.pop('created_at'); md.pop('created_at')
    assert md == ma and d == {k: v for k, v in a.items() if k != 'dataset_metadata.json'}

def test_translations_share_a_split(tmp_path):
    eps = make_episodes(40, seed=3)
    random.Random(0).shuffle(eps)                     # pairs far apart in the file
    write_episodes(tmp_path/'g.jsonl', eps)
    for seed in (1, 2, 3):
        meta = P.prepare(tmp_path/'g.jsonl', tmp_path/f'ds{seed}', val_split=0.25, seed=seed)
        ds = P.open_dataset(tmp_path/f'ds{seed}')
        texts = {s: [D.decode_episode(ds, s, i, TOK) for i in range(len(ds.split(s)))] for s in ('train', 'val')}
        assert meta['num_val_groups'] == 10 and len(texts['val']) == 20
        for g in (f'g{i:04d}' for i in range(40)):
            where = [s for s in texts for t in texts[s] if f'episode_id: {g}<' in t or f'episode_id: {g}_de ' in t]
            assert len(where) == 2 and where[0] == where[1], (g, where)

def test_val_gets_at_least_one_group_and_train_one(tmp_path):
    write_episodes(tmp_path/'g.jsonl', make_episodes(2, de=False))
    m = P.prepare(tmp_path/'g.jsonl', tmp_path/'ds', val_split=0.05)
    assert (m['num_train_episodes'], m['num_val_episodes']) == (1, 1)
    m = P.prepare(tmp_path/'g.jsonl', tmp_path/'ds', val_split=0)
    assert (m['num_train_episodes'], m['num_val_episodes']) == (2, 0)
    ds = P.open_dataset(tmp_path/'ds', full=True)
    assert len(ds.split('val')) == 0 and ds.split('val').lengths.tolist() == []

# --- failures leave old datasets untouched -----------------------------------------------------

def _visible(d): return sorted(p.name for p in Path(d).iterdir() if not p.name.startswith('.'))

def test_failed_prepare_keeps_old_dataset(gold, tmp_path):
    out = tmp_path/'ds'
    run_mypt('prepare', '--input', gold, '--output_dir', out, check=0)
    before = tree(out)
    lines = gold.read_text().splitlines()
    bad = tmp_path/'bad.jsonl'
    bad.write_text('\n'.join(lines[:50] + ['{"messages": [{"role": "admin", "content": "x"}]}'] + lines[50:]) + '\n')
    r = run_mypt('prepare', '--input', bad, '--output_dir', out, check=2)
    assert 'bad.jsonl:51: messages[0].role' in r.stderr and 'Traceback' not in r.stderr
    eps = make_episodes(30, seed=9)
    eps[40]['messages'][1]['content'] = 'word ' * 2000
    write_episodes(tmp_path/'long.jsonl', eps)
    r = run_mypt('prepare', '--input', tmp_path/'long.jsonl', '--output_dir', out, check=2)
    assert 'long.jsonl:41: episode g0020 is' in r.stderr and 'longer than block_size + 1 = 1025' in r.stderr
    assert 'Traceback' not in r.stderr
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bad.jsonl', 'ds', 'long.jsonl']   # no temporary folder left
    r = run_mypt('prepare', '--input', tmp_path/'long.jsonl', '--output_dir', tmp_path/'new', check=2)
    assert not (tmp_path/'new').exists()

def test_sigkill_midway_keeps_old_dataset(tmp_path):
    out = tmp_path/'ds'
    write_episodes(tmp_path/'small.jsonl', make_episodes(20, seed=2))
    run_mypt('prepare', '--input', tmp_path/'small.jsonl', '--output_dir', out, check=0)
    before = tree(out)
    write_episodes(tmp_path/'big.jsonl', make_episodes(25_000, seed=4, answer=(40, 120)))   # 50k episodes
    p = subprocess.Popen([str(BIN/'mypt'), 'prepare', '--input', str(tmp_path/'big.jsonl'), '--output_dir', str(out), '--block_size', '8192'],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and p.poll() is None:   # wait until it is writing the new dataset
            tmp = [d for d in tmp_path.glob('.ds.*.tmp') if (d/'train'/'tokens.bin').exists() and (d/'train'/'tokens.bin').stat().st_size]
            if tmp: break
            time.sleep(0.01)
        assert p.poll() is None and tmp, 'prepare finished before it could be killed'
        os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait()
    assert p.returncode == -signal.SIGKILL
    assert tree(out) == before
    assert _visible(tmp_path) == ['big.jsonl', 'ds', 'small.jsonl']
    P.open_dataset(out, full=True)

def test_refuses_to_replace_a_folder_that_is_not_a_dataset(gold, tmp_path):
    (tmp_path/'mine').mkdir(); (tmp_path/'mine'/'notes.txt').write_text('keep me')
    r = run_mypt('prepare', '--input', gold, '--output_dir', tmp_path/'mine', check=2)
    assert 'not a prepared dataset' in r.stderr
    assert (tmp_path/'mine'/'notes.txt').read_text() == 'keep me'

# --- reader checks --------------------------------------------------------------------------------

def _damage(d, how):
    tr = d/'train'
    if how == 'truncated tokens.bin': (tr/'tokens.bin').write_bytes((tr/'tokens.bin').read_bytes()[:-40])
    elif how == 'index past the end':
        a = np.fromfile(tr/'episodes.idx', '<u8'); a[-1] += 1; a.tofile(tr/'episodes.idx')
    elif how == 'index start past the end':
        a = np.fromfile(tr/'episodes.idx', '<u8'); a[-2] = 10**9; a.tofile(tr/'episodes.idx')
    elif how == 'mask length mismatch': (tr/'mask.bin').write_bytes((tr/'mask.bin').read_bytes() + b'\x00')
    elif how == 'metadata count':
        m = json.loads((d/'dataset_metadata.json').read_text()); m['num_val_tokens'] -= 1
        (d/'dataset_metadata.json').write_text(json.dumps(m))
    elif how == 'overlapping index':
        a = np.fromfile(tr/'episodes.idx', '<u8').reshape(-1, 2); a[3, 0] -= 1; a.tofile(tr/'episodes.idx')
    elif how == 'partial index pair': (tr/'episodes.idx').write_bytes((tr/'episodes.idx').read_bytes()[:-8])
    elif how == 'missing mask.bin': (tr/'mask.bin').unlink()

CHEAP = {'truncated tokens.bin': 'train/tokens.bin: truncated:',
         'index past the end': 'train/episodes.idx: episode',
         'index start past the end': 'train/episodes.idx: episode',
         'mask length mismatch': 'train/tokens.bin: truncated:',
         'metadata count': 'dataset_metadata.json: num_val_tokens: says',
         'overlapping index': 'train/episodes.idx: episode 3:',
         'partial index pair': 'train/episodes.idx: truncated',
         'missing mask.bin': 'train/mask.bin: missing'}

@pytest.fixture(scope='module')
def clean_ds(gold, tmp_path_factory):
    out = tmp_path_factory.mktemp('clean')/'ds'
    P.prepare(gold, out)
    return out

@pytest.mark.parametrize('how', list(CHEAP))
def test_corruption_caught_on_open(clean_ds, tmp_path, how):
    d = tmp_path/'ds'; shutil.copytree(clean_ds, d)
    P.open_dataset(d, full=True)                       # the copy is fine before the damage
    _damage(d, how)
    with pytest.raises(InputError) as e: P.open_dataset(d)
    assert str(e.value).startswith(str(d) + '/' + CHEAP[how]), str(e.value)

def test_truncated_message_names_both_counts(clean_ds, tmp_path):
    d = tmp_path/'ds'; shutil.copytree(clean_ds, d); _damage(d, 'truncated tokens.bin')
    n = (d/'train'/'mask.bin').stat().st_size
    with pytest.raises(InputError, match=f'tokens.bin: truncated: {n - 10} tokens but mask.bin has {n}'): P.open_dataset(d)

@pytest.mark.parametrize('how,msg', [('mask value 2', 'train/mask.bin: token 7: mask value 2'),
                                     ('token id out of range', 'val/tokens.bin: token 2: id 50276 is not a token'),
                                     ('trained count', 'dataset_metadata.json: num_train_trained_tokens: says')])
def test_value_corruption_caught_by_full_validation(clean_ds, tmp_path, how, msg):
    d = tmp_path/'ds'; shutil.copytree(clean_ds, d)
    if how == 'mask value 2':
        a = np.fromfile(d/'train'/'mask.bin', 'u1'); a[7] = 2; a.tofile(d/'train'/'mask.bin')
    if how == 'token id out of range':
        a = np.fromfile(d/'val'/'tokens.bin', '<u4'); a[2] = 50276; a.tofile(d/'val'/'tokens.bin')
    if how == 'trained count':
        a = np.fromfile(d/'train'/'mask.bin', 'u1'); a[-1] = 1 - a[-1]; a.tofile(d/'train'/'mask.bin')
    P.open_dataset(d)                                  # cheap checks do not read values
    with pytest.raises(InputError) as e: P.open_dataset(d, full=True)
    assert msg in str(e.value) and str(e.value).startswith(str(d)), str(e.value)

def test_not_a_dataset(tmp_path):
    with pytest.raises(InputError, match='dataset_metadata.json is missing'): P.open_dataset(tmp_path)
    (tmp_path/'dataset_metadata.json').write_text('{"schema": "episode_indexed_sft_v9"}')
    with pytest.raises(InputError, match="schema: unknown schema 'episode_indexed_sft_v9'"): P.open_dataset(tmp_path)

# --- options --------------------------------------------------------------------------------------

def test_drop_long_and_skip_invalid_are_counted(tmp_path):
    eps = make_episodes(30, seed=11)
    for j in (3, 17, 40): eps[j]['messages'][-1]['content'] = 'lorem ' * 300
    write_episodes(tmp_path/'g.jsonl', eps)
    lines = (tmp_path/'g.jsonl').read_text().splitlines()
    lines[10:10] = ['{not json', '{"messages": []}']
    (tmp_path/'g.jsonl').write_text('\n'.join(lines) + '\n')
    r = run_mypt('prepare', '--input', tmp_path/'g.jsonl', '--output_dir', tmp_path/'ds', '--block_size', '256', check=2)
    assert 'g.jsonl:11: invalid JSON' in r.stderr
    r = run_mypt('prepare', '--input', tmp_path/'g.jsonl', '--output_dir', tmp_path/'ds', '--block_size', '256',
                 '--skip_invalid', '--drop_long', check=0)
    assert 'dropped 3 too long' in r.stdout and 'skipped 2 invalid lines' in r.stdout
    m = json.loads((tmp_path/'ds'/'dataset_metadata.json').read_text())
    assert m['dropped_long'] == 3 and m['skipped_invalid'] == 2
    assert [d['line'] for d in m['dropped_long_episodes']] == [4, 20, 43]
    assert all(d['tokens'] > 257 for d in m['dropped_long_episodes'])
    assert m['num_train_episodes'] + m['num_val_episodes'] == 57
    ds = P.open_dataset(tmp_path/'ds', full=True)
    assert max(ds.split('train').lengths.max(), ds.split('val').lengths.max()) <= 257

def test_sharding_reads_back_identically(gold, tmp_path):
    P.prepare(gold, tmp_path/'flat', seed=3)
    m = P.prepare(gold, tmp_path/'sh', seed=3, tokens_per_shard=1500)
    a, b = P.open_dataset(tmp_path/'flat'), P.open_dataset(tmp_path/'sh', full=True)
    shards = sorted(p.name for p in (tmp_path/'sh'/'train').iterdir())
    assert len(shards) > 3 and shards == [f'shard_{i:05d}' for i in range(len(shards))]
    assert [s['path'] for s in m['shards']['train']] == [f'train/{s}' for s in shards]
    for s in ('train', 'val'):
        assert len(a.split(s)) == len(b.split(s)) and a.split(s).lengths.tolist() == b.split(s).lengths.tolist()
        for i in range(len(a.split(s))):
            (t1, m1), (t2, m2) = a.split(s).episode(i), b.split(s).episode(i)
            assert t1.tolist() == t2.tolist() and m1.tolist() == m2.tolist()
        for sh in b.split(s).shards:
            idx = np.fromfile(sh.folder/'episodes.idx', '<u8').reshape(-1, 2)
            assert idx[0, 0] == 0 and idx[-1].sum() == (sh.folder/'tokens.bin').stat().st_size // 4
            assert len(idx) == 1 or idx[-1].sum() <= 1500
        flat = np.concatenate([np.fromfile(sh.folder/'tokens.bin', '<u4') for sh in b.split(s).shards])
        assert flat.tolist() == np.fromfile(tmp_path/'flat'/s/'tokens.bin', '<u4').tolist()

def test_verbose_summary_and_mask_ratio_warning(gold, tmp_path):
    r = run_mypt('prepare', '--input', gold, '--output_dir', tmp_path/'ds', '--tokenization', 'gpt2', '--verbose', check=0)
    m = json.loads((tmp_path/'ds'/'dataset_metadata.json').read_text())
    block = json.loads(r.stdout[r.stdout.index('{'):r.stdout.index('}') + 1])
    assert block['schema'] == 'episode_indexed_sft_v1' and block['num_train_episodes'] == m['num_train_episodes']
    assert block['train_mask_ratio'] == m['train_mask_ratio']
    assert ('warning: train mask ratio' in r.stderr) == (not 0.3 <= m['train_mask_ratio'] <= 0.5)
    eps = make_episodes(10, answer=(1, 2))                  # short answers: a low mask ratio
    write_episodes(tmp_path/'short.jsonl', eps)
    r = run_mypt('prepare', '--input', tmp_path/'short.jsonl', '--output_dir', tmp_path/'ds2', '--verbose', check=0)
    assert 'warning: train mask ratio' in r.stderr and 'outside the expected 30-50%' in r.stderr

def test_bad_arguments_exit_2(gold, tmp_path):
    for args, msg in ((['--val_split', '1.5'], 'val_split'), (['--tokenization', 'bpe'], 'invalid choice'),
                      (['--block_size', '0'], 'block_size')):
        r = run_mypt('prepare', '--input', gold, '--output_dir', tmp_path/'ds', *args, check=2)
        assert msg in r.stderr and 'Traceback' not in r.stderr
    r = run_mypt('prepare', '--input', tmp_path/'nope.jsonl', '--output_dir', tmp_path/'ds', check=2)
    assert 'nope.jsonl: no such file' in r.stderr

# --- plain text and mixing ------------------------------------------------------------------------

@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp('corpus'); r = random.Random(7)
    (d/'a'/'b').mkdir(parents=True)
    for i in range(30):
        sub = d/'a' if i % 3 else d/'a'/'b'
        (sub/f'doc{i:02d}.txt').write_text('\n\n'.join(_text(r, 50, 400) for _ in range(r.randint(1, 4))), encoding='utf-8')
    (d/'a'/'notes.md').write_text('# Notes\n\nGrüezi  mitenand.\n', encoding='utf-8')
    (d/'a'/'skip.json').write_text('{"not": "text"}')
    (d/'a'/'empty.txt').write_text('')
    (d/'single.md').write_text('A single file passed by name.', encoding='utf-8')
    return d

def test_prepare_text_token_stream(corpus, tmp_path):
    out = tmp_path/'gen'
    r = run_mypt('prepare-text', '--input', corpus/'a', corpus/'single.md', '--output_dir', out, '--val_split', '0.2', '--seed', '3', check=0)
    ds = P.open_dataset(out, full=True)
    m = ds.meta
    assert ds.kind == 'token_stream_v1' and m['schema'] == 'token_stream_v1'
    assert sorted(os.listdir(out)) == ['dataset_metadata.json', 'tokenizer_state.json', 'train', 'val']
    files = P.text_files([corpus/'a', corpus/'single.md'])
    assert len(files) == 33 and not any(p.suffix == '.json' for _, p in files)
    assert m['num_train_documents'] + m['num_val_documents'] == 32 and m['skipped_empty'] == 1
    assert m['num_val_documents'] == round(0.2 * 33)
    val = set(m['val_documents'])
    for s in ('train', 'val'):
        want = [i for name, p in files if (name in val) == (s == 'val') and p.stat().st_size
                for i in TOK.encode(p.read_text(encoding='utf-8')) + [ENDOFTEXT_ID]]
        got = np.fromfile(out/s/'tokens.bin', dtype='<u4')
        assert got.tolist() == want and ds.split(s).tokens.tolist() == want and ds.split(s).num_tokens == m[f'num_{s}_tokens']
    with pytest.raises(TypeError): len(ds.split('train'))

def test_prepare_text_reads_large_files_in_exact_pieces(corpus, tmp_path):
    p = corpus/'a'/'doc01.txt'
    text = p.read_text(encoding='utf-8') + '  x  y\t z \n\n  ' + "it's 12 34"
    (tmp_path/'t.txt').write_text(text, encoding='utf-8')
    for n in (5, 37, 1000):
        pieces = list(P.read_text_pieces(tmp_path/'t.txt', n))
        assert ''.join(pieces) == text and (n > len(text) or len(pieces) > 1)
        assert [i for q in pieces for i in TOK.encode(q)] == TOK.encode(text)
    m = P.prepare_text([tmp_path/'t.txt'], tmp_path/'ds', val_split=0, chunk_chars=37)
    assert np.fromfile(tmp_path/'ds'/'train'/'tokens.bin', '<u4').tolist() == TOK.encode(text) + [ENDOFTEXT_ID]
    (tmp_path/'bad.txt').write_bytes(b'ok \xff\xfe nope')
    r = run_mypt('prepare-text', '--input', tmp_path/'bad.txt', '--output_dir', tmp_path/'ds3', check=2)
    assert 'bad.txt: invalid UTF-8' in r.stderr

@pytest.fixture(scope='module')
def general(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp('general')/'gen'
    P.prepare_text([corpus/'a'], out, val_split=0.2)
    return out

@pytest.mark.parametrize('ratio', [0.2, 0.4])
def test_mix_ratio_shuffle_and_pure_val(clean_ds, general, tmp_path, ratio):
    out = tmp_path/'mixed'
    r = run_mypt('mix', '--sft_dir', clean_ds, '--general_dir', general, '--output_dir', out,
                 '--general_ratio', ratio, '--chunk_size', '256', '--shuffle', '--seed', '5', check=0)
    ds, sft = P.open_dataset(out, full=True), P.open_dataset(clean_ds)
    m = ds.meta; mx = m['mix']
    assert abs(mx['general_ratio_achieved'] - ratio) < 0.05 and f"achieved {mx['general_ratio_achieved']:.3f}" in r.stdout
    tr = ds.split('train')
    general_eps = [i for i in range(len(tr)) if tr.episode(i)[1].all()]
    g_tokens = int(sum(tr.lengths[general_eps]))
    assert abs(g_tokens / m['num_train_tokens'] - ratio) < 0.05
    assert g_tokens == mx['splits']['train']['general_tokens'] and max(tr.lengths[general_eps]) == 256
    assert general_eps != list(range(len(tr) - len(general_eps), len(tr)))      # shuffled in among SFT episodes
    stream = P.open_dataset(general).split('train').tokens               # chunks come from the stream, in order
    firsts = sorted(tr.episode(i)[0][:4].tolist() for i in general_eps)
    assert firsts == sorted(stream[k*256:k*256+4].tolist() for k in range(len(general_eps)))
    sft_texts = sorted(D.decode_episode(sft, 'train', i, TOK) for i in range(len(sft.split('train'))))
    assert sorted(D.decode_episode(ds, 'train', i, TOK) for i in range(len(tr)) if i not in general_eps) == sft_texts
    assert tree(out)['val/tokens.bin'] == tree(clean_ds)['val/tokens.bin']          # val stays pure SFT
    assert mx['sft_metadata_sha256'] == __import__('mypt.core').core.sha256_file(clean_ds/'dataset_metadata.json')
    assert mx['general_ratio_requested'] == ratio and mx['chunk_size'] == 256 and mx['shuffle'] is True

def test_mix_general_chunks_are_the_stream_in_order(clean_ds, general, tmp_path):
    m = P.mix(clean_ds, general, tmp_path/'mixed', general_ratio=0.3, chunk_size=300)
    ds = P.open_dataset(tmp_path/'mixed')
    tr, n_sft = ds.split('train'), len(P.open_dataset(clean_ds).split('train'))
    chunks = np.concatenate([tr.episode(i)[0] for i in range(n_sft, len(tr))])   # unshuffled: SFT first
    want = P.open_dataset(general).split('train').tokens[:len(chunks)]
    assert len(chunks) == m['mix']['splits']['train']['general_tokens'] and chunks.tolist() == want.tolist()
    assert all(tr.episode(i)[1].all() for i in range(n_sft, len(tr)))
    assert not any(tr.episode(i)[1].all() for i in range(n_sft))

def test_mix_reuses_small_general_data_and_mixes_val(clean_ds, tmp_path):
    (tmp_path/'t').mkdir(); (tmp_path/'t'/'one.txt').write_text(_text(random.Random(1), 300, 300))
    (tmp_path/'t'/'two.txt').write_text(_text(random.Random(2), 300, 300))
    P.prepare_text([tmp_path/'t'], tmp_path/'small', val_split=0.5)
    m = P.mix(clean_ds, tmp_path/'small', tmp_path/'mixed', general_ratio=0.5, chunk_size=64, mix_val=True, random_offsets=True, seed=1)
    rep = m['mix']['splits']
    assert m['mix']['general_reused'] and rep['train']['general_passes'] > 1
    assert abs(m['mix']['general_ratio_achieved'] - 0.5) < 0.05 and abs(rep['val']['general_ratio_achieved'] - 0.5) < 0.05
    ds = P.open_dataset(tmp_path/'mixed', full=True)
    assert sum(ds.split('val').episode(i)[1].all() for i in range(len(ds.split('val')))) == rep['val']['general_chunks'] > 0
    m2 = P.mix(clean_ds, tmp_path/'small', tmp_path/'mixed2', general_ratio=0.5, chunk_size=64, mix_val=True, random_offsets=True, seed=1)
    assert tree(tmp_path/'mixed')['train/tokens.bin'] == tree(tmp_path/'mixed2')['train/tokens.bin']

def test_mix_checks(clean_ds, general, tmp_path):
    r = run_mypt('mix', '--sft_dir', clean_ds, '--general_dir', general, '--output_dir', tmp_path/'m', '--chunk_size', '1026', check=2)
    assert 'chunk_size' in r.stderr and '1025' in r.stderr
    r = run_mypt('mix', '--sft_dir', general, '--general_dir', general, '--output_dir', tmp_path/'m', check=2)
    assert 'expected an episode_indexed_sft_v1 dataset' in r.stderr
    r = run_mypt('mix', '--sft_dir', clean_ds, '--general_dir', clean_ds, '--output_dir', tmp_path/'m', check=2)
    assert 'token_stream_v1' in r.stderr
    r = run_mypt('mix', '--sft_dir', clean_ds, '--general_dir', general, '--output_dir', tmp_path/'m', '--general_ratio', '1', check=2)
    assert 'general_ratio' in r.stderr
    assert not (tmp_path/'m').exists()

def test_input_changing_between_passes_is_refused(gold, tmp_path, monkeypatch):
    stamps = iter([(1, 1), (2, 2)])
    monkeypatch.setattr(P, '_stamp', lambda path: next(stamps))
    with pytest.raises(InputError, match='changed while it was being prepared'): P.prepare(gold, tmp_path/'ds')
    assert not (tmp_path/'ds').exists() and list(tmp_path.iterdir()) == []
