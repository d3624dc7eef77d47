"Best-fit packing of episodes into rows: fill, determinism, every episode once, resume, DDP split, evaluation."
import hashlib, json
import numpy as np, pytest, torch
from conftest import ROOT
from mypt.data import (GPTEpisodeDataLoader, MemorySplit, pack_rows, pack_rows_greedy, eval_batches,
                       packing_summary, format_packing)

T = 1024

@pytest.fixture(scope='module')
def bundled(tmp_path_factory):
    "The bundled bilingual set prepared for block_size 1024 (216 train episodes, 24 val)."
    from mypt.prepare import prepare
    from mypt.dataset import open_dataset
    d = tmp_path_factory.mktemp('packing')/'bilingual'
    prepare(ROOT/'data'/'sample'/'gold_bilingual.jsonl', d, val_split=0.1, seed=42, block_size=T)
    return open_dataset(d)

def guide_profile(n=2000, seed=0):
    "Synthetic episodes with the guide's length profile: most of 150-900 tokens, at most block_size + 1."
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(np.log(380), 0.45, n).astype(int), 40, T + 1)
    eps = []
    for k, L in enumerate(lengths):
        ids = rng.integers(0, 50257, L).astype(np.uint32); mask = np.zeros(L, np.uint8); mask[int(L * .6):] = 1
        eps.append((ids, mask))
    return MemorySplit(eps)

@pytest.fixture(scope='module')
def guide(): return guide_profile()

def loader(split, **kw):
    kw = {'batch_size': 8, 'block_size': T, 'mode': 'packed', 'epoch_seed': 3301, 'epoch_drop_last': False, **kw}
    return GPTEpisodeDataLoader(split, **kw)

def fill(dl, rows): return sum(int(dl.lengths[i]) - 1 for r in rows for i in r) / (len(rows) * dl.T)
def flat(rows): return [i for r in rows for i in r]

def visited(dl, n_batches):
    "Episode rows this loader hands out in its next `n_batches` batches (empty rows left out)."
    return [r for _ in range(n_batches) for r in dl.next_rows() if r]

# --- fill ------------------------------------------------------------------------------------------

def test_fill_bundled_set(bundled):
    dl, greedy = loader(bundled.split('train')), loader(bundled.split('train'), packer='greedy')
    for e in range(5):
        assert fill(dl, dl._epoch_rows(e)) >= 0.95, e
        assert len(dl._epoch_rows(e)) < len(greedy._epoch_rows(e))
    s = packing_summary(dl)
    assert (s['rows'], s['episodes'], s['min_rows'], s['packer']) == (108, 216, 104, 'bfd')
    assert format_packing(s) == 'packing: 108 rows, fill 96.1%'
    assert format_packing(packing_summary(greedy)).startswith('packing: ') and packing_summary(greedy)['fill'] < 0.8

def test_fill_guide_profile(guide):
    dl = loader(guide)
    for e in range(3): assert fill(dl, dl._epoch_rows(e)) >= 0.95, e
    assert fill(dl, loader(guide, packer='greedy')._epoch_rows(0)) < 0.85

def test_rows_fit_and_episodes_are_whole(guide):
    dl = loader(guide)
    rows = dl._epoch_rows(0)
    assert all(sum(int(dl.lengths[i]) - 1 for i in r) <= T for r in rows)
    b = dl.assemble(rows[:4])                         # each episode's tokens, in one piece, positions from 0
    for r, row in enumerate(rows[:4]):
        at = 0
        for d, i in enumerate(row):
            ids, mask = guide.episode(i); n = len(ids) - 1
            assert b['x'][r, at:at+n].tolist() == ids[:-1].tolist() and b['y'][r, at:at+n].tolist() == ids[1:].tolist()
            assert b['mask'][r, at:at+n].tolist() == mask[1:].tolist()
            assert (b['doc'][r, at:at+n] == d).all() and b['pos'][r, at:at+n].tolist() == list(range(n))
            at += n
        assert (b['mask'][r, at:] == 0).all()

# --- every episode once, determinism ---------------------------------------------------------------

@pytest.mark.parametrize('which', ['bundled', 'guide'])
def test_each_epoch_holds_every_eligible_episode_once(which, bundled, guide):
    split = bundled.split('train') if which == 'bundled' else guide
    dl = loader(split, episode_min_tokens=200)
    want = sorted(np.nonzero(np.asarray(split.lengths) >= 200)[0].tolist())
    for e in range(3):
        rows = dl._epoch_rows(e)
        assert sorted(flat(rows)) == want
        assert sorted(flat(visited(dl, -(-len(rows) // dl.B)))) == want    # through the batches too
        assert dl.epoch == e and dl.epoch_order(e).tolist() == flat(dl._epoch_rows(e))

def test_same_seed_same_rows_other_seed_other_rows(bundled, guide):
    for split in (bundled.split('train'), guide):
        a, b = loader(split), loader(split)
        assert a._epoch_rows(0) == b._epoch_rows(0) and a._epoch_rows(3) == b._epoch_rows(3)
        assert a._epoch_rows(0) != a._epoch_rows(1)                       # a new epoch: new rows ...
        assert {tuple(sorted(r)) for r in a._epoch_rows(0)} != {tuple(sorted(r)) for r in a._epoch_rows(1)}   # ... new compositions
        c = loader(split, epoch_seed=1)
        assert {tuple(sorted(r)) for r in a._epoch_rows(0)} != {tuple(sorted(r)) for r in c._epoch_rows(0)}   # and per seed

def test_rows_are_pinned_across_machines(guide):
    "The rows of an epoch are a function of seed, epoch and lengths only: pinned here (numpy PCG64, stable sort)."
    rows = loader(guide)._epoch_rows(0)
    digest = hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]
    assert (len(rows), rows[0], digest) == (816, [1434], 'c74ab8d4f49be1a7'), (len(rows), rows[0], digest)

def test_pack_rows_breaks_ties_by_the_given_order():
    lengths = np.array([601, 601, 401, 401])                   # 600 + 400 pairs per row
    assert pack_rows([0, 1, 2, 3], lengths, T, bucket=1) == [[0, 2], [1, 3]]
    assert pack_rows([1, 0, 3, 2], lengths, T, bucket=1) == [[1, 3], [0, 2]]
    assert pack_rows_greedy([0, 1, 2, 3], lengths, T) == [[0], [1, 2], [3]]

def test_unshuffled_packing_keeps_the_file_order(guide):
    dl = loader(guide, epoch_shuffle=False)
    assert dl.packing == 'greedy' and flat(dl._epoch_rows(0)) == dl.eligible.tolist() == flat(dl._epoch_rows(1))

def test_padded_and_random_modes_unchanged(guide):
    dl = loader(guide, mode='epoch')
    assert dl._epoch_rows(0) == [[int(i)] for i in np.random.default_rng([3301, 0]).permutation(dl.eligible)]
    r = loader(guide, mode='random'); assert all(len(row) == 1 for row in r.next_rows())

# --- resume ------------------------------------------------------------------------------------------

@pytest.mark.parametrize('drop_last', [False, True])
def test_resume_mid_epoch_continues_with_identical_rows(guide, drop_last):
    a = loader(guide, epoch_drop_last=drop_last)
    n = a.batches_per_epoch
    for _ in range(n // 2): a.next_rows()
    st = json.loads(json.dumps(a.state_dict()))                  # as the checkpoint stores it
    assert st['packer'] == 'bfd'
    want = [a.next_rows() for _ in range(n)]                      # the rest of this epoch and into the next
    b = loader(guide, epoch_drop_last=drop_last); b.load_state_dict(st)
    assert [b.next_rows() for _ in range(n)] == want
    assert torch.equal(loader(guide, epoch_drop_last=drop_last).assemble(want[0])['x'], a.assemble(want[0])['x'])

def test_state_from_greedy_packing_resumes_greedily(guide):
    old = loader(guide, packer='greedy')
    for _ in range(5): old.next_rows()
    st = {k: v for k, v in old.state_dict().items() if k not in ('packer', 'pack_window')}   # saved before best-fit existed
    want = [old.next_rows() for _ in range(10)]
    new = loader(guide); new.load_state_dict(st)
    assert new.packing == 'greedy' and [new.next_rows() for _ in range(10)] == want

# --- DDP ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('world', [2, 3])
def test_ranks_together_cover_every_episode_once(bundled, world):
    split = bundled.split('train')
    ranks = [loader(split, rank=r, world_size=world) for r in range(world)]
    n = ranks[0].batches_per_epoch
    assert all(dl.batches_per_epoch == n for dl in ranks)
    seen = [visited(dl, n) for dl in ranks]
    for p in range(world):
        for q in range(p + 1, world): assert not set(flat(seen[p])) & set(flat(seen[q]))
    assert sorted(flat(sum(seen, []))) == ranks[0].eligible.tolist()
    assert sorted(sum(seen, []), key=min) == sorted(ranks[0]._epoch_rows(0), key=min)   # the same rows as one process

def test_ranks_with_drop_last_skip_only_the_tail(bundled):
    split = bundled.split('train')
    ranks = [loader(split, rank=r, world_size=2, epoch_drop_last=True) for r in range(2)]
    n = ranks[0].batches_per_epoch
    seen = flat(sum((visited(dl, n) for dl in ranks), []))
    s = packing_summary(ranks[0])
    assert len(seen) == len(set(seen)) == s['episodes'] - s['dropped_episodes'] and s['batches'] == n

# --- evaluation --------------------------------------------------------------------------------------

def test_eval_batches_pack_every_episode_once(bundled):
    split = bundled.split('train')
    padded, packed = loader(split, mode='epoch'), loader(split)
    rows = packed.eval_rows()
    assert sorted(flat(rows)) == packed.eligible.tolist() and rows == loader(split, epoch_seed=7).eval_rows()
    assert fill(packed, rows) >= 0.95
    nb_packed, nb_padded = len(list(eval_batches(packed, 1000))), len(list(eval_batches(padded, 1000)))
    assert nb_packed == 14 and nb_padded == 27
    assert len(list(eval_batches(packed, 3))) == 3

def test_packed_eval_loss_equals_padded(bundled):
    from mypt.model import GPT, GPTConfig
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=T, n_layer=1, n_head=2, n_embd=32, bias=False)).eval()
    def loss(dl):
        tot = cnt = 0.0
        with torch.no_grad():
            for b in eval_batches(dl, 100):
                _, l = model(b['x'], b['y'], b['mask'], pos=b.get('pos'), doc=b.get('doc'))
                n = float(b['mask'].sum()); tot += l.item() * n; cnt += n
        return tot / cnt
    val = MemorySplit([bundled.split('val').episode(i) for i in range(10)])      # 10 episodes: the masked head is slow on CPU
    ref = loss(loader(val, mode='epoch'))
    assert abs(loss(loader(val)) - ref) < 1e-4 and abs(loss(loader(val, packer='greedy')) - ref) < 1e-4
