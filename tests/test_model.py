"The masked, chunked LM head: same loss and gradients as full logits, any mask, several chunks."
import pytest, torch
from mypt.model import GPT, GPTConfig

@pytest.mark.parametrize('kind', ['random', 'zeros', 'ones', 'one_token'])
@pytest.mark.parametrize('chunk', [5, 4096])
def test_masked_head_matches_full_logits(kind, chunk):
    torch.manual_seed(1)
    m = GPT(GPTConfig(block_size=48, n_layer=2, n_head=2, n_embd=24, bias=True)); m.head_chunk = chunk
    x, y = torch.randint(0, 50276, (3, 40)), torch.randint(0, 50276, (3, 40))
    mask = {'random': (torch.rand(3, 40) < 0.3).long(), 'zeros': torch.zeros(3, 40, dtype=torch.long),
            'ones': torch.ones(3, 40, dtype=torch.long), 'one_token': torch.zeros(3, 40, dtype=torch.long).index_put_((torch.tensor([1]), torch.tensor([7])), torch.tensor(1))}[kind]
    out = []
    for full in (True, False):
        m.zero_grad(); _, loss = m(x, y, mask, full_logits=full); loss.backward()
        out.append((loss.detach(), [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in m.parameters()]))
    (lf, gf), (lc, gc) = out
    assert torch.isfinite(lc) and abs(lf.item() - lc.item()) <= 1e-5
    assert all(torch.allclose(a, b, atol=1e-5, rtol=1e-4) for a, b in zip(gf, gc))

def test_masked_head_under_checkpointing_and_packing():
    torch.manual_seed(2)
    cfg = GPTConfig(block_size=32, n_layer=2, n_head=2, n_embd=16, use_checkpoint=True)
    m = GPT(cfg).train()
    x = torch.randint(0, 50000, (2, 32)); y = torch.randint(0, 50000, (2, 32)); mask = (torch.rand(2, 32) < .5).long()
    doc = torch.tensor([[0]*10 + [1]*22, [0]*32]); pos = torch.tensor([list(range(10)) + list(range(22)), list(range(32))])
    _, a = m(x, y, mask, pos=pos, doc=doc, full_logits=True); ga = torch.autograd.grad(a, m.wte.weight)[0]
    _, b = m(x, y, mask, pos=pos, doc=doc); gb = torch.autograd.grad(b, m.wte.weight)[0]
    assert abs(a.item() - b.item()) < 1e-5 and torch.allclose(ga, gb, atol=1e-5)
