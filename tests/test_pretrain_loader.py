"""The pretraining loader (pipeline/pretrain/loader.py): micro-batches that DataLoader workers build
are the ones the training thread builds, in a compact dtype, in step order from any step."""
import pytest
import torch

from test_pretrain import SP, FakeStream, _train
from pipeline.pretrain.config import Arch, Config
from pipeline.pretrain.data import Examples, window_length
from pipeline.pretrain.loader import MicroBatches, loader, to_device
from pipeline.pretrain.loss import counts


def small_cfg(**kw) -> Config:
    return Config(arch=Arch(family="modernbert", hidden_size=32, layers=2, heads=2, dropout=0.0), seq_len=32,
                  batch_size=8, grad_accum=2, max_steps=6, warmup_steps=1, precision="fp32", **kw)


def test_worker_batches_equal_the_training_threads_in_int32():
    cfg = small_cfg()
    data = Examples(FakeStream(40, window_length(cfg)[0]), cfg, SP, seed=7, shuffle=True)
    rank1 = MicroBatches(data, cfg, rank=1, world=2)  # 2 sequences per micro-batch
    in_thread = list(loader(rank1, first_step=2, workers=0, pin=False))
    by_workers = list(loader(rank1, first_step=2, workers=2, pin=False))
    assert len(in_thread) == len(by_workers) == (6 - 2) * 2  # steps 2..5, 2 micro-batches each
    for (mine, share), (theirs, their_share) in zip(in_thread, by_workers):
        assert share == their_share and mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    # item 1 of the loader: step 2, micro-batch 1, rank 1 = global examples 2*8 + 1*4 + 1*2 = 22, 23
    batch, share = in_thread[1]
    assert {v.dtype for v in batch.values()} == {torch.int32}
    direct = data.batch([22, 23])
    on_device = to_device(batch, torch.device("cpu"))
    assert all(on_device[k].dtype == direct[k].dtype and torch.equal(on_device[k], direct[k]) for k in direct)
    assert share == counts(direct) and share["lm"] > 0


@pytest.mark.parametrize("workers", [0, 2])
def test_training_with_loader_workers_gives_the_same_losses(workers):
    """Workers change where batches are built, not the run: the same losses to the last bit, also
    when the loader restarts at a later step."""
    torch.set_num_threads(1)
    cfg = small_cfg()
    stream = FakeStream(64, window_length(cfg)[0])
    reference = _train(cfg, stream, 4).losses
    trainer = _train(small_cfg(loader_workers=workers), stream, 2)
    trainer.step = 3  # as a resume at step 3 would leave it (the weights differ, the data must not)
    moved, _ = trainer.micro_batches()
    fresh = _train(cfg, stream, 0)
    fresh.step = 3
    expected, _ = fresh.micro_batches()
    assert all(torch.equal(a[k], b[k]) for a, b in zip(moved, expected) for k in a)
    assert _train(small_cfg(loader_workers=workers), stream, 4).losses == reference


@pytest.mark.parametrize("family", ["bert", "modernbert", "lmpipe", "electra"])
def test_the_vocabulary_is_padded_to_a_multiple_of_64(family):
    """1,000 tokens get 1,024 embedding and decoder rows; the 24 extra are never input or target."""
    from pipeline.pretrain.model import build_model, exported

    cfg = Config(arch=Arch(family=family, hidden_size=32, layers=1, heads=2), seq_len=32,
                 objective="electra" if family == "electra" else "mlm")
    model = exported(build_model(cfg, 1000, SP))
    assert model.get_input_embeddings().weight.shape[0] == 1024
    assert model.config.vocab_size == 1024
    if family != "electra":  # the discriminator has no vocabulary head
        assert model.get_output_embeddings().weight.shape[0] == 1024
    batch = Examples(FakeStream(64, window_length(cfg)[0]), cfg, SP, seed=7, shuffle=True).batch(list(range(64)))
    assert int(batch["input_ids"].max()) < 1000 and int(batch["labels"].max()) < 1000


FAMILIES = [("bert", "mlm"), ("modernbert", "mlm"), ("lmpipe", "mlm"), ("electra", "electra"),
            ("gpt2", "clm"), ("llama", "clm"), ("lmpipe", "clm"), ("xlnet", "plm")]


@pytest.mark.parametrize("family,objective", FAMILIES)
def test_a_compiled_step_is_one_graph(family, objective):
    """Issue 16: torch.compile traces each family's training loss, as the trainer computes it, in
    one graph (no graph break, so no fallback to eager between pieces), with the trainer's
    compile settings. ModernBERT's and lmpipe's own sparse prediction (a nonzero) broke theirs
    into 6; SparseMLM's gather does not, and ELECTRA's sampling needs the settings."""
    import torch._dynamo

    from pipeline.pretrain.loss import loss_sums
    from pipeline.pretrain.model import build_model
    from pipeline.pretrain.sparse import SparseMLM, predicted_rows
    from pipeline.pretrain.trainer import TRACE_DYNAMIC_SHAPES

    cfg = Config(arch=Arch(family=family, hidden_size=32, layers=2, heads=2, dropout=0.0), seq_len=32,
                 objective=objective)
    model = build_model(cfg, 1000, SP)
    batch = Examples(FakeStream(8, window_length(cfg)[0]), cfg, SP, seed=7, shuffle=True).batch(list(range(8)))
    if getattr(getattr(model, "config", None), "sparse_prediction", False):
        model, batch = SparseMLM(model), predicted_rows(batch)
    torch._dynamo.reset()
    with torch._dynamo.config.patch(**TRACE_DYNAMIC_SHAPES):
        explained = torch._dynamo.explain(lambda b: sum(loss_sums(model, b).values()))(batch)
    assert explained.graph_break_count == 0 and explained.graph_count == 1, explained.break_reasons


def test_the_chunked_loss_compiles_in_one_graph_too(monkeypatch):
    """The gpu profile's micro-batches have more predicted rows than one chunk, so its step runs
    sparse.LinearCrossEntropy (a custom autograd Function with a loop over chunks)."""
    import torch._dynamo

    from pipeline.pretrain import sparse
    from pipeline.pretrain.loss import loss_sums
    from pipeline.pretrain.model import build_model

    monkeypatch.setattr(sparse, "CHUNK_ROWS", 16)
    cfg = Config(arch=Arch(family="modernbert", hidden_size=32, layers=2, heads=2, dropout=0.0), seq_len=32)
    model = sparse.SparseMLM(build_model(cfg, 1000, SP))
    batch = sparse.predicted_rows(
        Examples(FakeStream(8, window_length(cfg)[0]), cfg, SP, seed=7, shuffle=True).batch(list(range(8))))
    assert batch["predict_at"].numel() > 16
    torch._dynamo.reset()
    explained = torch._dynamo.explain(lambda b: sum(loss_sums(model, b).values()))(batch)
    assert explained.graph_break_count == 0 and explained.graph_count == 1, explained.break_reasons
