"""Counter-based random draws for synthesizers (internal).

Every draw is a pure function of ``(seed, key, salt, index)`` where ``key`` is the user code
the row belongs to, so a user's synthetic rows never depend on which other users are in the
batch, on the batch size or on the chunking. Matrix draws hash ``(user key, item key)`` pairs
in torch (``lowbias32`` mixing on int64 with 32-bit masks), which is fast enough to give every
(user, item) cell its own Gumbel noise.
"""

from __future__ import annotations

import numpy as np
import torch

from recaug.random import hash_uniform

_M32 = 0xFFFFFFFF
_TWO32 = float(1 << 32)
#: salts that keep the different uses of one seed apart
SALT_LATENT, SALT_ITEMS, SALT_LENGTH, SALT_PICK, SALT_ORDER, SALT_STEP, SALT_COND = range(1, 8)


def _counter(salt: int, index: int | np.ndarray = 0) -> np.ndarray:
    return (np.uint64(salt) << np.uint64(40)) + np.asarray(index, dtype=np.uint64)


def row_uniform(seed: int, keys: np.ndarray, salt: int, index: int | np.ndarray = 0) -> np.ndarray:
    """One uniform in [0, 1) per key (float64)."""
    return hash_uniform(seed, np.asarray(keys, dtype=np.int64), _counter(salt, index))


def _keys32(seed: int, keys: np.ndarray, salt: int) -> torch.Tensor:
    return torch.from_numpy((row_uniform(seed, keys, salt) * _TWO32).astype(np.int64))


def _mix32(x: torch.Tensor) -> torch.Tensor:
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _M32
    return x ^ (x >> 16)


def uniform_matrix(seed: int, keys: np.ndarray, n_cols: int, salt: int) -> torch.Tensor:
    """``(len(keys), n_cols)`` float32 uniforms in (0, 1); cell (r, j) depends on (seed, keys[r], j) only."""
    row = _keys32(seed, keys, salt)
    col = _keys32(0x5EED, np.arange(n_cols), salt)
    x = _mix32(row[:, None] ^ col[None, :])
    return ((x >> 8).to(torch.float32) + 0.5) * (1.0 / (1 << 24))


def normal_matrix(seed: int, keys: np.ndarray, dim: int, salt: int) -> torch.Tensor:
    """``(len(keys), dim)`` standard normals (Box-Muller over :func:`uniform_matrix`)."""
    u = uniform_matrix(seed, keys, 2 * dim, salt).double()
    z = torch.sqrt(-2.0 * torch.log(u[:, :dim])) * torch.cos(2.0 * torch.pi * u[:, dim:])
    return z.float()


def gumbel_topk(
    logits: torch.Tensor, keys: np.ndarray, k: np.ndarray, seed: int, salt: int, temperature: float
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``k[r]`` distinct columns per row, sampled without replacement from ``softmax(logits/T)``.

    Gumbel-top-k: equivalent to drawing one item at a time and renormalising. ``temperature=0``
    takes the plain top-k. Columns with ``-inf`` logits are never taken. Returns CSR
    ``(offsets, items)``; within a row the items come in the order they were drawn.
    """
    n_rows, n_cols = logits.shape
    k = np.minimum(np.asarray(k, dtype=np.int64), n_cols)
    kmax = int(k.max()) if len(k) else 0
    if n_rows == 0 or kmax == 0:
        return np.zeros(n_rows + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    logits = logits.float().cpu()
    banned = ~torch.isfinite(logits)
    if temperature > 0:
        g = -torch.log(-torch.log(uniform_matrix(seed, keys, n_cols, salt)))
        scores = logits / temperature + g
    else:
        scores = logits.clone()
    scores[banned] = -torch.inf
    values, idx = torch.topk(scores, kmax, dim=1)
    take = torch.isfinite(values).numpy() & (np.arange(kmax)[None, :] < k[:, None])
    offsets = np.r_[0, np.cumsum(take.sum(axis=1))].astype(np.int64)
    return offsets, idx.numpy()[take].astype(np.int64)


def categorical(
    logits: torch.Tensor, keys: np.ndarray, seed: int, salt: int, index: int, temperature: float
) -> np.ndarray:
    """One column per row from ``softmax(logits/T)`` (argmax for ``T=0``); -1 where every logit is -inf."""
    if logits.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    logits = logits.double().cpu()
    ok = torch.isfinite(logits).any(dim=1).numpy()
    if temperature <= 0:
        out = torch.argmax(torch.where(torch.isfinite(logits), logits, -torch.inf), dim=1).numpy()
    else:
        p = torch.softmax(logits / temperature, dim=1)
        p = torch.nan_to_num(p, nan=0.0)
        cdf = torch.cumsum(p, dim=1)
        u = torch.from_numpy(row_uniform(seed, keys, salt, index)) * cdf[:, -1]
        out = torch.searchsorted(cdf, u[:, None].contiguous()).squeeze(1).numpy()
        out = np.minimum(out, logits.shape[1] - 1)
        # guard against landing on a zero-probability column at the right edge of the CDF
        bad = ok & ~torch.isfinite(logits[torch.arange(len(out)), torch.from_numpy(out)]).numpy()
        if bad.any():
            out[bad] = torch.argmax(logits[torch.from_numpy(np.flatnonzero(bad))], dim=1).numpy()
    return np.where(ok, out, -1).astype(np.int64)


def inverse_cdf(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Indices drawn with probability proportional to ``weights`` for uniforms ``u``."""
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    if len(cdf) == 0 or cdf[-1] <= 0:
        raise ValueError("inverse_cdf needs positive weights")
    idx = np.searchsorted(cdf, u * cdf[-1], side="right")
    idx = np.minimum(idx, len(cdf) - 1)
    # never return a zero-weight index (possible only through rounding at the top)
    zero = np.asarray(weights)[idx] <= 0
    if zero.any():
        idx[zero] = np.flatnonzero(np.asarray(weights) > 0)[-1]
    return idx


def row_chunks(n_rows: int, n_cols: int, budget: int = 1 << 23) -> list[slice]:
    """Row slices so that one chunk of a ``(rows, n_cols)`` matrix holds about ``budget`` cells."""
    step = max(1, budget // max(n_cols, 1))
    return [slice(lo, min(lo + step, n_rows)) for lo in range(0, n_rows, step)]
