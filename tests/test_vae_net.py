"""``VAENet`` takes dense or sparse input rows: the sparse path is the dense one, made cheap."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from recaug.models.inputs import sparse_rows_to_dense, sparse_rows_to_torch
from recaug.models.nets.vae import VAENet


def bags(seed: int = 0, users: int = 12, items: int = 40) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((users, items)) < 0.15) * rng.choice([1.0, 0.3], size=(users, items))
    dense[3] = 0.0  # an empty row
    return sp.csr_matrix(dense.astype(np.float32))


def test_sparse_rows_match_dense_rows():
    mat, rows = bags(), np.array([5, 0, 3, 7])
    assert torch.equal(sparse_rows_to_torch(mat, rows).to_dense(), sparse_rows_to_dense(mat, rows))


def test_sparse_and_dense_input_give_the_same_encoding_and_loss():
    mat, rows = bags(1), np.arange(12)
    dense, sparse = sparse_rows_to_dense(mat, rows), sparse_rows_to_torch(mat, rows)
    torch.manual_seed(0)
    net = VAENet(40, [16], 4).eval()
    mu_d, logvar_d = net.encode(dense)
    mu_s, logvar_s = net.encode(sparse)
    assert torch.allclose(mu_d, mu_s, atol=1e-6) and torch.allclose(logvar_d, logvar_s, atol=1e-6)
    logits = net.decode(mu_d)
    assert torch.allclose(VAENet.loss(logits, dense, mu_d, logvar_d, 0.3), VAENet.loss(logits, sparse, mu_d, logvar_d, 0.3))


def test_sparse_gradients_match_dense_gradients_without_dropout():
    mat, rows = bags(2), np.arange(12)
    grads = []
    for x in (sparse_rows_to_dense(mat, rows), sparse_rows_to_torch(mat, rows)):
        torch.manual_seed(0)
        net = VAENet(40, [16], 4, dropout=0.0)
        mu, logvar = net.encode(x)
        VAENet.loss(net.decode(mu), x, mu, logvar, 0.2).backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-5)


def test_sparse_input_is_dropped_out_in_training_mode():
    # with (almost) every item dropped, a row encodes like an empty row; in eval mode nothing drops
    x = sparse_rows_to_torch(bags(3), np.arange(12))
    torch.manual_seed(0)
    net = VAENet(40, [16], 4, dropout=0.999999)
    empty = net.eval().encode(torch.zeros(12, 40))[0]
    torch.manual_seed(1)
    assert torch.allclose(net.train().encode(x)[0], empty)
    assert not torch.allclose(net.eval().encode(x)[0], empty)
