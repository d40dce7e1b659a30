"""The gpu profile's pretraining code path, run on this CPU: the profile's settings with the widths
scaled down (issue 16). Everything that differs from the CPU profiles runs: torch.compile, bf16,
DataLoader workers, the 512 x 128 batch, the long eval, the padded vocabulary."""
import pytest
import yaml
from transformers import AutoModelForMaskedLM

from pretrain_helpers import PARAMS, token_paths, tokenize
from pipeline.runner import resolve_config, run_stage

SMALL = ["pretrain.arch.hidden_size=32", "pretrain.arch.layers=2", "pretrain.arch.heads=2",
         "pretrain.max_steps=5", "pretrain.warmup_steps=1", "pretrain.log_every=1", "pretrain.eval_every=5",
         "pretrain.checkpoint_every=5"]


@pytest.mark.slow
def test_gpu_profile_trains_five_steps_on_cpu(project, tmp_path_factory, shared_data):
    gpu = resolve_config("pretrain", {"profile": "gpu"}, PARAMS)
    assert gpu.compile and gpu.loader_workers > 1 and gpu.batch_size * gpu.seq_len >= 65536  # what is tested
    root = tokenize(tmp_path_factory.mktemp("tok"), shared_data)
    metrics = run_stage("pretrain", ["profile=gpu", *SMALL, *token_paths(root)], PARAMS)
    assert metrics["steps"] == 5 and metrics["tokens_seen"] == 5 * gpu.batch_size * gpu.seq_len
    assert metrics["precision"] == "bf16" and metrics["processes"] == 1
    assert 0 < metrics["final_loss"] < 8 and 0 < metrics["val_loss"] < 8  # ln(1024 tokens) = 6.9 at the start
    saved = yaml.safe_load((project / "data" / "model" / "lmpipe_pretrain.yaml").read_text())
    assert saved["compile"] is True and saved["loader_workers"] == gpu.loader_workers
    assert saved["arch"]["hidden_size"] == 32 and saved["batch_size"] == gpu.batch_size
    model = AutoModelForMaskedLM.from_pretrained(project / "data" / "model")
    assert model.config.vocab_size % 64 == 0 and model.get_input_embeddings().weight.shape[0] == model.config.vocab_size
