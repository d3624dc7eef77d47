"CUDA only (skipped without a GPU): bf16 autocast through the chunked loss, fused AdamW, torch.compile, FlexAttention, fit."
import copy, json, math
from contextlib import nullcontext
import numpy as np, pytest, torch
from conftest import ROOT
from mypt.model import GPT, GPTConfig, BlockMask, configure_optimizer
from mypt.data import GPTEpisodeDataLoader, MemorySplit, pack_rows
from mypt.prepare import prepare
from mypt.train import TrainConfig, fit

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')

DEV, T = 'cuda', 128

def tiny(**kw):
    cfg = dict(n_layer=2, n_head=4, n_embd=64, block_size=T, dropout=0.0, bias=False); cfg.update(kw)
    torch.manual_seed(0)
    return GPT(GPTConfig(**cfg)).to(DEV)

def episodes(n=24, seed=0):
    "Synthetic (ids, mask) episodes of 12-100 tokens, about half of each trained."
    rng = np.random.default_rng(seed)
    eps = []
    for L in rng.integers(12, 101, n):
        mask = np.zeros(L, np.uint8); mask[int(L * rng.uniform(0.3, 0.7)):] = 1
        eps.append((rng.integers(0, 50257, L), mask))
    return eps

def batch(mode, B=4, weights=False):
    b = GPTEpisodeDataLoader(MemorySplit(episodes()), B, T, mode=mode, device=DEV).get_batch()
    if weights: b['mask'] = b['mask'] * torch.rand(b['mask'].shape, device=DEV) * 2   # float loss weights
    return b

def loss_grads(model, b, amp=None, **kw):
    "Loss and a copy of every gradient of one forward/backward of `model` on batch `b`."
    model.zero_grad(set_to_none=True)
    with torch.autocast('cuda', dtype=amp) if amp else nullcontext():
        _, loss = model(b['x'], b['y'], b['mask'], pos=b.get('pos'), doc=b.get('doc'), **kw)
    loss.backward()
    params = getattr(model, '_orig_mod', model).named_parameters()     # a compiled model's own names
    g = {n: p.grad.detach().float().clone() for n, p in params if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return loss.item(), g

def assert_grads_close(g, ref, rtol):
    "Every gradient within `rtol` of the reference (relative L2), with a floor for ones that are (nearly) zero."
    assert g.keys() == ref.keys()
    floor = 1e-3 * torch.cat([v.flatten() for v in ref.values()]).norm()
    for n in ref:
        err, scale = (g[n] - ref[n]).norm(), ref[n].norm()
        assert err <= rtol * scale + rtol * floor, f'{n}: |diff| {err:.3e} vs |ref| {scale:.3e} (rtol {rtol})'

def test_bf16_chunked_loss_close_to_fp32_full_logits():
    "bf16 autocast through ChunkedLinearCE (several chunks) against the float32 full-logits loss and gradients."
    model = tiny(); model.head_chunk = 32
    b = batch('epoch')
    assert int(b['mask'].sum()) > 2 * model.head_chunk            # the loss really is chunked
    ref_loss, ref_g = loss_grads(model, b, full_logits=True)
    loss, g = loss_grads(model, b, amp=torch.bfloat16)
    assert math.isfinite(loss) and abs(loss - ref_loss) <= 1e-2 * abs(ref_loss), (loss, ref_loss)
    assert all(v.dtype == torch.float32 for v in g.values())
    assert_grads_close(g, ref_g, rtol=5e-2)

@pytest.mark.parametrize('weights', [False, True], ids=['mask', 'weights'])
def test_masked_head_equals_full_logits(weights):
    "float32 on CUDA: the masked chunked head gives the full-logits loss and gradients (0/1 mask and loss weights)."
    model = tiny(); model.head_chunk = 32
    b = batch('epoch', weights=weights)
    for reduction in ('mean', 'sum'):
        ref_loss, ref_g = loss_grads(model, b, full_logits=True, reduction=reduction)
        loss, g = loss_grads(model, b, reduction=reduction)
        assert loss == pytest.approx(ref_loss, rel=1e-5)
        assert_grads_close(g, ref_g, rtol=1e-4)

def test_fused_adamw_step():
    "configure_optimizer on CUDA builds a fused AdamW; its steps match the unfused one on the same gradients."
    model = tiny(); ref = copy.deepcopy(model)
    opt = configure_optimizer(model, 1e-3, 0.1, device_type='cuda')
    ref_opt = configure_optimizer(ref, 1e-3, 0.1, device_type='cpu')   # the same groups, not fused
    assert all(g['fused'] for g in opt.param_groups) and not any(g.get('fused') for g in ref_opt.param_groups)
    b = batch('packed')
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for _ in range(3):
        with torch.autocast('cuda', dtype=torch.bfloat16):
            _, loss = model(b['x'], b['y'], b['mask'], pos=b['pos'], doc=b['doc'])
        loss.backward()
        for p, q in zip(model.parameters(), ref.parameters()): q.grad = p.grad.clone()   # identical gradients
        opt.step(); ref_opt.step(); opt.zero_grad(set_to_none=True); ref_opt.zero_grad(set_to_none=True)
    for (n, p), q in zip(model.named_parameters(), ref.parameters()):
        assert torch.isfinite(p).all(), n
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=n)
    assert any(not torch.equal(p, before[n]) for n, p in model.named_parameters())
    assert opt.state[model.wte.weight]['exp_avg'].is_cuda

def test_compile_matches_eager():
    "torch.compile of the whole model (ChunkedLinearCE inside, padded and packed rows): same loss and gradients as eager."
    torch._dynamo.reset()
    model = tiny(); model.head_chunk = 32
    compiled = torch.compile(model)
    for mode in ('epoch', 'packed'):
        for k in range(2):                                    # a second batch: another number of trained tokens
            b = GPTEpisodeDataLoader(MemorySplit(episodes(seed=k)), 4, T, mode=mode, device=DEV).get_batch()
            ref_loss, ref_g = loss_grads(model, b, reduction='sum')
            loss, g = loss_grads(compiled, b, reduction='sum')
            assert loss == pytest.approx(ref_loss, rel=1e-5), (mode, k)
            assert_grads_close(g, ref_g, rtol=1e-4)
    torch._dynamo.reset()

@pytest.mark.skipif(BlockMask is None, reason='this PyTorch has no FlexAttention')
def test_packed_flex_equals_sdpa_and_padded():
    "Packed rows on CUDA: FlexAttention (what 'auto' picks without dropout) = SDPA with the boolean mask = padded rows."
    model = tiny()
    b = batch('packed')
    assert isinstance(model.packed_mask(b['doc']), BlockMask)      # 'auto' on CUDA, no dropout
    model.packed_attention = 'sdpa'
    sdpa_loss, sdpa_g = loss_grads(model, b)
    model.packed_attention = 'flex'
    flex_loss, flex_g = loss_grads(model, b)
    assert flex_loss == pytest.approx(sdpa_loss, rel=1e-5)
    assert_grads_close(flex_g, sdpa_g, rtol=1e-4)
    bf = {}
    for kernel in ('sdpa', 'flex'):
        model.packed_attention = kernel; bf[kernel] = loss_grads(model, b, amp=torch.bfloat16)[0]
    assert bf['flex'] == pytest.approx(bf['sdpa'], rel=1e-2)
    # the same episodes as padded rows and as packed rows: same summed loss and gradients (float32, flex)
    dl_pad = GPTEpisodeDataLoader(MemorySplit(episodes()), 4, T, mode='epoch', device=DEV)
    dl_pack = GPTEpisodeDataLoader(MemorySplit(episodes()), 4, T, mode='packed', device=DEV)
    eps = list(range(12))
    pad, pack = dl_pad.assemble([[i] for i in eps]), dl_pack.assemble(pack_rows(eps, dl_pack.lengths, T))
    assert pack['x'].shape[0] < pad['x'].shape[0]                 # really packed
    model.packed_attention = 'auto'
    pad_loss, pad_g = loss_grads(model, pad, reduction='sum')
    pack_loss, pack_g = loss_grads(model, pack, reduction='sum')
    assert pack_loss == pytest.approx(pad_loss, rel=1e-5)
    assert_grads_close(pack_g, pad_g, rtol=1e-4)

@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    d = tmp_path_factory.mktemp('cuda_ds')/'prepared'
    prepare(ROOT/'data'/'sample'/'gold_en.jsonl', d, val_split=0.1)
    return d

@pytest.mark.parametrize('compile', [False, True], ids=['eager', 'compiled'])
def test_fit_on_cuda(prepared, tmp_path, capsys, compile):
    "A short fit on CUDA (bf16 autocast, packed rows, fused AdamW; the --check of packed = padded on the GPU)."
    mc = GPTConfig(n_layer=1, n_head=2, n_embd=32, block_size=1024, dropout=0.0, bias=False)
    tc = TrainConfig(batch_sampling_mode='packed', max_iters=6, eval_interval=3, eval_iters=2, warmup_iters=1,
                     batch_size=2, log_interval=3, learning_rate=3e-3, device='cuda', compile=compile)
    if compile: torch._dynamo.reset()
    recs = fit(mc, tc, prepared, tmp_path/'ck', check=not compile)
    out = capsys.readouterr().out
    assert 'device cuda' in out and ('dtype bfloat16' in out) == torch.cuda.is_bf16_supported(), out
    assert [r['step'] for r in recs] == [0, 3, 6] and all(math.isfinite(r['val_loss']) for r in recs), recs
    assert recs[-1]['train_loss'] < recs[0]['train_loss']
    train = [json.loads(l) for l in (tmp_path/'ck'/'metrics.jsonl').read_text().splitlines() if '"train"' in l]
    assert len(train) == 2 and all(math.isfinite(r['loss']) and r['useful_tok_s'] > 0 for r in train), train
    assert (tmp_path/'ck'/'model.safetensors').exists()
    if compile: torch._dynamo.reset()
