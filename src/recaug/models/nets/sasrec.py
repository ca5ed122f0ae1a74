"""``SASRecNet``: self-attentive sequential recommendation (Kang & McAuley 2018).

Two blocks (``block=``):

* ``"pre_ln"`` (default; the original SASRec code): item embedding scaled by sqrt(d) +
  learned positional embedding, dropout, then ``n_layers`` blocks of [layer norm -> causal
  multi-head self-attention -> residual -> layer norm -> point-wise FFN d -> d (ReLU) ->
  residual], a final layer norm.
* ``"post_ln"`` (the S3Rec / CoSeRec / ICLRec / RepPad code family, whose P1 tables the
  benchmarks compare with): item + positional embedding unscaled, layer norm, dropout, then
  blocks of [self-attention -> dropout -> layer norm(x + .) -> FFN d -> 4d (GELU) -> d ->
  dropout -> layer norm(x + .)], no final norm.

The output is scored against the same item embedding. Rows are left-padded, so the last
column always holds the most recent item; a query never attends to a padding key (except
itself, so all-padding rows stay finite).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from recaug import columns as C


class _Dropout(nn.Module):
    """Inverted dropout drawn with ``rand`` (about twice as fast as ``nn.Dropout`` on CPU)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand_like(x) >= self.p
        return x * keep.to(x.dtype) * (1.0 / (1.0 - self.p))


class _SelfAttention(nn.Module):
    def __init__(self, hidden: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if hidden % n_heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {n_heads} heads")
        self.n_heads = n_heads
        self.q = nn.Linear(hidden, hidden)
        self.kv = nn.Linear(hidden, 2 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.p = dropout

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = query.shape
        h = self.n_heads
        q = self.q(query).view(b, n, h, d // h).transpose(1, 2)
        k, v = self.kv(keys).view(b, n, 2, h, d // h).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.p if self.training else 0.0
        )
        return self.out(att.transpose(1, 2).reshape(b, n, d))


class _Block(nn.Module):
    def __init__(self, hidden: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(hidden, eps=1e-8)
        self.attn = _SelfAttention(hidden, n_heads, dropout)
        self.ffn_norm = nn.LayerNorm(hidden, eps=1e-8)
        self.ffn = nn.Sequential(
            nn.Linear(hidden, hidden),
            _Dropout(dropout),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            _Dropout(dropout),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        q = self.attn_norm(x)
        x = q + self.attn(q, x, mask)
        x = self.ffn_norm(x)
        return (x + self.ffn(x)) * keep


class _PostLNBlock(nn.Module):
    """Transformer block of the S3Rec/ICLRec code: residual first, layer norm after, 4d GELU FFN."""

    def __init__(self, hidden: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.attn = _SelfAttention(hidden, n_heads, dropout)
        self.attn_dropout = _Dropout(dropout)
        self.attn_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.ffn = nn.Sequential(
            nn.Linear(hidden, 4 * hidden),
            nn.GELU(),
            nn.Linear(4 * hidden, hidden),
            _Dropout(dropout),
        )
        self.ffn_norm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = self.attn_norm(x + self.attn_dropout(self.attn(x, x, mask)))
        return self.ffn_norm(x + self.ffn(x)) * keep


#: the transformer blocks ``SASRecNet(block=...)`` offers
BLOCKS = ("pre_ln", "post_ln")


class SASRecNet(nn.Module):
    """Left-padded item rows ``(B, L <= max_len)`` -> hidden states ``(B, L, hidden)``."""

    padding_side = "left"

    def __init__(
        self,
        item_space: int,
        max_len: int = 50,
        hidden: int = 64,
        n_layers: int = 2,
        n_heads: int = 2,
        dropout: float = 0.5,
        block: str = "pre_ln",
    ) -> None:
        super().__init__()
        if block not in BLOCKS:
            raise ValueError(f"block must be one of {BLOCKS}, got {block!r}")
        self.max_len = max_len
        self.item_embedding = nn.Embedding(item_space, hidden, padding_idx=C.PAD_ID)
        self.position_embedding = nn.Embedding(max_len, hidden)
        self.dropout = _Dropout(dropout)
        post = block == "post_ln"
        kind = _PostLNBlock if post else _Block
        self.blocks = nn.ModuleList(kind(hidden, n_heads, dropout) for _ in range(n_layers))
        # pre-LN normalises once at the end, post-LN once on the embeddings
        self.embedding_norm = nn.LayerNorm(hidden, eps=1e-12) if post else nn.Identity()
        self.final_norm = nn.Identity() if post else nn.LayerNorm(hidden, eps=1e-8)
        self.scale = 1.0 if post else math.sqrt(hidden)
        self.apply(self._init)
        with torch.no_grad():
            self.item_embedding.weight[C.PAD_ID].zero_()

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """Hidden state at every position; ``[:, -1]`` summarises the whole row."""
        b, n = items.shape
        real = items != C.PAD_ID
        keep = real.unsqueeze(-1).to(self.item_embedding.weight.dtype)
        positions = torch.arange(self.max_len - n, self.max_len, device=items.device)
        x = self.item_embedding(items) * self.scale + self.position_embedding(positions)
        x = self.dropout(self.embedding_norm(x)) * keep
        eye = torch.eye(n, dtype=torch.bool, device=items.device)
        causal = torch.ones(n, n, dtype=torch.bool, device=items.device).tril()
        mask = (causal & (real.view(b, 1, 1, n) | eye)).expand(b, 1, n, n)
        for block in self.blocks:
            x = block(x, mask, keep)
        return self.final_norm(x)
