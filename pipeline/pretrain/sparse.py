"""Sparse MLM prediction with static shapes and no host sync, and a chunked linear cross-entropy.

ModernBERT's and lmpipe's own sparse prediction pick the masked rows with `hidden[labels != -100]`,
and BERT computes every token's logits. The nonzero is what costs on a GPU: the host waits for the
device to learn its size, every step, and compile has to trace a data-dependent shape. Here the loader finds the masked positions on the host
(`predicted_rows`), pads them to a multiple of 64 with ignored rows, and the model gathers them
with index_select, whose shape the host already knows.

Beyond one chunk of rows, the decoder and the loss are one chunked function
(`LinearCrossEntropy`): the (rows x vocabulary) logits exist one chunk at a time, and the
gradients of the rows, the decoder weight and its bias are computed in the forward pass, as
Liger-Kernel's fused linear cross-entropy does; the backward pass only scales them. For the gpu
profile the logits would be 26 k x 32,768 (3.4 GB in fp32, plus as much again for their gradient).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline.pretrain.data import IGNORE

ROW_MULTIPLE = 64   # predicted rows are padded to this: few distinct shapes for compile, < 64 wasted rows
CHUNK_ROWS = 4096   # logits rows at once: 4096 x 32,768 fp32 is 0.5 GB


def predicted_rows(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The host batch with `predict_at` (flat indices of the labelled positions, padded with 0)
    and `labels` for those rows only (IGNORE on the padding), in the order the boolean mask
    would give them."""
    flat = batch["labels"].flatten()
    where = torch.nonzero(flat != IGNORE).flatten()
    size = -(-max(where.numel(), 1) // ROW_MULTIPLE) * ROW_MULTIPLE
    predict_at = torch.zeros(size, dtype=where.dtype)
    labels = torch.full((size,), IGNORE, dtype=flat.dtype)
    predict_at[: where.numel()], labels[: where.numel()] = where, flat[where]
    return {**{k: v for k, v in batch.items() if k != "labels"}, "predict_at": predict_at, "labels": labels}


class LinearCrossEntropy(torch.autograd.Function):
    """sum over rows with label != IGNORE of cross_entropy(x W^T + b, label), chunk by chunk. Under
    autocast the matmuls run in its dtype (as nn.Linear's would) and the softmax in fp32."""

    @staticmethod
    def forward(ctx, x, weight, bias, labels, compute_dtype):
        with torch.autocast(x.device.type, enabled=False):  # the dtypes are chosen here
            return LinearCrossEntropy._forward(ctx, x, weight, bias, labels, compute_dtype)

    @staticmethod
    def _forward(ctx, x, weight, bias, labels, compute_dtype):
        x_c, w_c = x.to(compute_dtype), weight.to(compute_dtype)
        b_c = bias.to(compute_dtype) if bias is not None else None
        grad_x = torch.empty_like(x_c)
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device)
        grad_b = torch.zeros(weight.shape[0], dtype=torch.float32, device=weight.device)
        total = torch.zeros((), dtype=torch.float32, device=x.device)
        for start in range(0, x.shape[0], CHUNK_ROWS):
            rows, target = x_c[start:start + CHUNK_ROWS], labels[start:start + CHUNK_ROWS]
            logits = torch.addmm(b_c, rows, w_c.T) if b_c is not None else rows @ w_c.T
            # one pass from the matmul's dtype to fp32 log-probabilities; each later pass is in place
            log_p = torch.log_softmax(logits, dim=-1, dtype=torch.float32)
            del logits
            valid = target != IGNORE
            safe = torch.where(valid, target, 0)
            total = total - (log_p.gather(1, safe[:, None])[:, 0] * valid).sum()
            # d loss / d logits = softmax - onehot(label), zero on ignored rows
            grad = log_p.exp_()
            grad.scatter_add_(1, safe[:, None], -torch.ones_like(safe, dtype=grad.dtype)[:, None])
            grad = grad.masked_fill_(~valid[:, None], 0.0).to(compute_dtype)
            grad_x[start:start + CHUNK_ROWS] = grad @ w_c
            grad_w += (grad.T @ rows).float()
            grad_b += grad.sum(0, dtype=torch.float32)
        ctx.save_for_backward(grad_x, grad_w, grad_b)
        ctx.dtypes = (x.dtype, weight.dtype, bias is not None)
        return total

    @staticmethod
    def backward(ctx, grad_total):
        grad_x, grad_w, grad_b = ctx.saved_tensors
        x_dtype, w_dtype, has_bias = ctx.dtypes
        return ((grad_x * grad_total).to(x_dtype), (grad_w * grad_total).to(w_dtype),
                (grad_b * grad_total).to(w_dtype) if has_bias else None, None, None)


class SparseMLM(torch.nn.Module):
    """A BERT, ModernBERT or lmpipe masked LM trained through predicted_rows' batches: the
    encoder, then its head on the gathered rows, then linear_cross_entropy. It holds the model and
    adds no weights, so DDP and torch.compile wrap it and the model is saved as it is."""

    def __init__(self, mlm: torch.nn.Module):
        super().__init__()
        self.mlm = mlm

    def forward(self, input_ids: torch.Tensor, predict_at: torch.Tensor, labels: torch.Tensor,
                **_unread) -> torch.Tensor:  # a batch's other columns (token_type_ids: all 0) go unread
        encoder = self.mlm.bert if hasattr(self.mlm, "bert") else self.mlm.model
        hidden = encoder(input_ids=input_ids).last_hidden_state
        rows = hidden.flatten(0, 1).index_select(0, predict_at)
        if hasattr(self.mlm, "cls"):  # BERT: the transform (dense, act, LN), then the tied decoder
            x, decoder = self.mlm.cls.predictions.transform(rows), self.mlm.cls.predictions.decoder
        elif hasattr(self.mlm, "lm_head"):  # lmpipe: its head's transform, then the tied decoder
            x, decoder = self.mlm.lm_head.transformed(rows), self.mlm.lm_head.decoder
        else:  # ModernBERT: its prediction head, then the tied decoder
            x, decoder = self.mlm.head(rows), self.mlm.decoder
        return linear_cross_entropy(x, decoder, labels)


def linear_cross_entropy(x: torch.Tensor, decoder: torch.nn.Linear, labels: torch.Tensor) -> torch.Tensor:
    """The summed cross-entropy of decoder(x). Up to one chunk of rows (the CPU profiles: ~1.7 k
    rows a micro-batch) it is nn.Linear and cross_entropy, whose autograd is as fast as it gets
    here (LinearCrossEntropy measured ~20 ms slower per 330 ms step on 2 EPYC cores: its exp,
    scatter and casts are separate passes over the logits); beyond, LinearCrossEntropy keeps
    one chunk of logits at a time."""
    if x.shape[0] <= CHUNK_ROWS:
        return F.cross_entropy(decoder(x).float(), labels, ignore_index=IGNORE, reduction="sum")
    device = x.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype
    return LinearCrossEntropy.apply(x, decoder.weight, decoder.bias, labels, dtype)
