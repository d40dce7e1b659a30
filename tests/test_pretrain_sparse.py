"""pipeline/pretrain/sparse.py: the predicted rows found on the host, the chunked linear
cross-entropy, and SparseMLM against the models' own sparse prediction."""
import pytest
import torch
import torch.nn.functional as F

from test_pretrain import SP, FakeStream
from pipeline.pretrain import sparse
from pipeline.pretrain.config import Arch, Config
from pipeline.pretrain.data import IGNORE, Examples, window_length
from pipeline.pretrain.loss import counts
from pipeline.pretrain.model import build_model


def test_predicted_rows_are_the_boolean_masks_in_its_order_padded_to_64():
    cfg = Config(seq_len=32, mlm_probability=0.4)
    batch = Examples(FakeStream(8, window_length(cfg)[0]), cfg, SP, seed=7, shuffle=True).batch(list(range(8)))
    rows = sparse.predicted_rows(batch)
    flat = batch["labels"].flatten()
    n = int((flat != IGNORE).sum())
    assert rows["predict_at"].numel() % 64 == 0 and n <= rows["predict_at"].numel() < n + 64
    assert torch.equal(rows["labels"][:n], flat[flat != IGNORE])
    assert (rows["labels"][n:] == IGNORE).all()
    assert torch.equal(batch["input_ids"].flatten()[rows["predict_at"][:n]], batch["input_ids"].flatten()[flat != IGNORE])
    assert counts(rows) == counts(batch)  # the loss's divisor is the same on either form


@pytest.mark.parametrize("bias", [True, False])
def test_linear_cross_entropy_equals_linear_then_cross_entropy_in_chunks(monkeypatch, bias):
    monkeypatch.setattr(sparse, "CHUNK_ROWS", 7)  # 3 chunks of 20 rows, the last one short
    torch.manual_seed(0)
    x = torch.randn(20, 16, dtype=torch.float32, requires_grad=True)
    w = torch.randn(50, 16, dtype=torch.float32, requires_grad=True)
    b = torch.randn(50, dtype=torch.float32, requires_grad=True) if bias else None
    labels = torch.randint(0, 50, (20,))
    labels[[3, 11, 19]] = IGNORE
    ours = sparse.LinearCrossEntropy.apply(x, w, b, labels, torch.float32) * 2.5  # a scaled upstream gradient
    ours.backward()
    mine = [t.grad.clone() for t in (x, w, b) if t is not None]
    for t in (x, w, b):
        if t is not None:
            t.grad = None
    reference = F.cross_entropy(F.linear(x, w, b), labels, ignore_index=IGNORE, reduction="sum") * 2.5
    reference.backward()
    assert torch.allclose(ours, reference, rtol=1e-6)
    for got, want in zip(mine, [t.grad for t in (x, w, b) if t is not None]):
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("chunk", [4096, 40])  # one chunk: nn.Linear + cross_entropy; several: LinearCrossEntropy
@pytest.mark.parametrize("family", ["bert", "modernbert", "lmpipe"])
def test_sparse_mlm_gives_the_models_own_loss_and_gradients(family, chunk, monkeypatch):
    """fp32: the summed loss and every weight's gradient equal the model's own loss (`labels=`
    through its forward: ModernBERT's and lmpipe's sparse prediction, BERT's dense logits) to
    float rounding."""
    monkeypatch.setattr(sparse, "CHUNK_ROWS", chunk)
    cfg = Config(arch=Arch(family=family, hidden_size=32, layers=2, heads=2, dropout=0.0), seq_len=32)
    torch.manual_seed(0)
    model = build_model(cfg, 1000, SP)
    batch = Examples(FakeStream(8, window_length(cfg)[0]), cfg, SP, seed=7, shuffle=True).batch(list(range(8)))
    n = counts(batch)["lm"]
    own = model(input_ids=batch["input_ids"], labels=batch["labels"]).loss * n
    own.backward()
    own_grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    rows = sparse.predicted_rows(batch)
    ours = sparse.SparseMLM(model)(input_ids=rows["input_ids"], predict_at=rows["predict_at"], labels=rows["labels"])
    ours.backward()
    assert ours.item() == pytest.approx(own.item(), rel=1e-6)
    grads = {k: p.grad for k, p in model.named_parameters() if p.grad is not None}
    assert grads.keys() == own_grads.keys()
    for k in grads:
        assert torch.allclose(grads[k], own_grads[k], rtol=1e-4, atol=1e-6), k


def test_sparse_mlm_under_bf16_autocast_stays_close_to_fp32():
    cfg = Config(arch=Arch(family="modernbert", hidden_size=32, layers=2, heads=2, dropout=0.0), seq_len=32)
    torch.manual_seed(0)
    model = sparse.SparseMLM(build_model(cfg, 1000, SP))
    rows = sparse.predicted_rows(
        Examples(FakeStream(8, window_length(cfg)[0]), cfg, SP, seed=7, shuffle=True).batch(list(range(8))))
    exact = model(**rows).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = model(**rows)
    assert half.dtype == torch.float32 and half.item() == pytest.approx(exact, rel=0.01)
