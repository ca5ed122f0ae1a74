"""``NextItemRecommender``: shared training/scoring of the sequence models (SASRec, GRU4Rec).

Training instances: one per user sequence (its last ``max_len + 1`` training items), predicting
every next position at once; no prefix expansion. The padded input/target matrix is built once
with ``Sequences.to_padded`` and batches are row slices of it; negatives are drawn in bulk.
Each batch is split into ``length_groups`` groups of similar length and every group is trimmed
to its longest row before the forward pass: the same gradient as the whole padded batch (rows
are independent and padding never influences real positions), for a fraction of the work.
A sequence net maps ``(B, L)`` item rows to ``(B, L, d)`` hidden states and owns
``item_embedding`` (the shared output layer) and ``padding_side``.

A ``weight`` column (e.g. the fuser's down-weighted synthetic rows) is the share of the loss
of predicting that row's item (a weighted mean over positions); the item still counts in
full as input context for the positions after it. Offline-expanded rows, online views and
RepPad rebuild the rows, so with them the weights are ignored (with a warning);
``weighted=False`` ignores them always (e.g. to compare a control with an expand arm alike).

Augmentation inside training (see :mod:`recaug.models.contrastive`): ``augmenter=`` (an
``recaug.expand`` augmenter or its config dict) gives every training row ``n_views`` fresh
views per epoch, each augmented with probability ``aug_prob``, and the next-item loss is taken
on the views (the whole ``max_len + 1`` row is augmented, so inputs and targets stay aligned;
MASK / PAD targets are skipped). ``contrastive="cl4srec"`` / ``"duorec"`` adds
``cl_weight * InfoNCE`` on the views' representations (``cl_representation``; CL4SRec
contrasts every position's state by default, DuoRec the last one). ``repeat_pad=True`` applies
RepPad (:mod:`recaug.models.reppad`) to every training batch after any online views
(``repeat_pad_delimiter=True`` puts a PAD pair between copies). ``fit(..., sequences=)`` trains
on offline-expanded rows (``recaug.expand.expand_training``), one pseudo-user per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.expand import Augmenter, epoch_seed
from recaug.models import contrastive as cl
from recaug.models.inputs import finish_scores, padded_items, sequence_weights, warn_if_weighted
from recaug.models.losses import check_loss, info_nce, negatives_outside_rows, next_item_loss, uniform_items
from recaug.models.neural import NeuralRecommender
from recaug.models.reppad import repeat_pad_pairs
from recaug.models.training import fit_loop, validation_data
from recaug.random import hash_uniform


class NextItemRecommender(NeuralRecommender):
    """Base of sequence models trained to predict the next item at every position."""

    sequential = True
    #: rows scored at once in :meth:`score`, taken in order of length so that each batch is trimmed
    #: to its own longest history: small batches waste less attention on padding (Beauty, all users,
    #: one core: 6.2 s of CPU at 1024, 4.8 s at 128; scores equal to float rounding)
    score_batch = 128

    def __init__(
        self,
        *,
        max_len: int = 50,
        loss: str = "ce",
        n_negatives: int = 100,
        length_groups: int = 8,
        augmenter: Augmenter | dict[str, Any] | None = None,
        aug_prob: float = 0.5,
        n_views: int = 1,
        contrastive: str | None = None,
        cl_weight: float = 0.1,
        cl_temperature: float = 1.0,
        cl_augmenter: Augmenter | dict[str, Any] | None = None,
        cl_representation: str | None = None,
        repeat_pad: bool = False,
        repeat_pad_delimiter: bool = False,
        weighted: bool = True,
        seed: int = 0,
        device: str = "auto",
        **train: Any,
    ) -> None:
        super().__init__(seed=seed, device=device, **train)
        if cl_representation is None:
            cl_representation = cl.default_representation(contrastive)
        cl.check_settings(contrastive, cl_weight, cl_temperature, aug_prob, n_views, cl_representation)
        if max_len < 1:
            raise ConfigError("max_len must be >= 1")
        check_loss(loss, n_negatives)
        if length_groups < 1:
            raise ConfigError("length_groups must be >= 1")
        self.max_len = max_len
        self.loss = loss
        self.n_negatives = n_negatives
        self.length_groups = length_groups
        self.augmenter = cl.build_augmenter(augmenter)
        self.aug_prob = float(aug_prob)
        self.n_views = int(n_views)
        self.contrastive = contrastive
        self.cl_weight = float(cl_weight)
        self.cl_temperature = float(cl_temperature)
        self.cl_augmenter = cl.build_augmenter(cl_augmenter)
        self.cl_representation = cl_representation
        self.repeat_pad = bool(repeat_pad)
        self.repeat_pad_delimiter = bool(repeat_pad_delimiter)
        self.weighted = bool(weighted)

    @classmethod
    def upgrade_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Models saved before ``cl_representation`` existed contrasted the last state."""
        if config.get("contrastive") and "cl_representation" not in config:
            return {**config, "cl_representation": "last"}
        return config

    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        return {
            **super().config(),
            "max_len": self.max_len,
            "loss": self.loss,
            "n_negatives": self.n_negatives,
            "length_groups": self.length_groups,
            "augmenter": None if self.augmenter is None else self.augmenter.config(),
            "aug_prob": self.aug_prob,
            "n_views": self.n_views,
            "contrastive": self.contrastive,
            "cl_weight": self.cl_weight,
            "cl_temperature": self.cl_temperature,
            "cl_augmenter": None if self.cl_augmenter is None else self.cl_augmenter.config(),
            "cl_representation": self.cl_representation,
            "repeat_pad": self.repeat_pad,
            "repeat_pad_delimiter": self.repeat_pad_delimiter,
            "weighted": self.weighted,
        }

    def _rows(
        self, seqs: Sequences, side: str, weights: np.ndarray | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``(rows, max_len + 1)`` int64 training rows; rows without a usable target dropped.

        Also each row's random-stream key (:func:`row_keys`) and, with ``weights`` (aligned
        with ``seqs.items``), the matching float32 weight rows.
        """
        width = self.max_len + 1
        rows = padded_items(seqs, width, self.item_space_ or 0, side=side)
        inputs, targets = rows[:, :-1], rows[:, 1:]
        useful = ((inputs != C.PAD_ID) & (targets >= C.N_RESERVED)).any(dim=1)
        keys = torch.from_numpy(row_keys(seqs.users))[useful].contiguous()
        if weights is None:
            return rows[useful].contiguous(), keys, None
        w = torch.from_numpy(seqs.to_padded(width, pad=0.0, side=side, values=weights))
        return rows[useful].contiguous(), keys, w[useful].contiguous()

    def fit(
        self,
        train: Interactions,
        valid: Interactions | None = None,
        *,
        item_space: int | None = None,
        sequences: Any | None = None,
        init_from: NextItemRecommender | None = None,
    ) -> NextItemRecommender:
        """Train on every next-item position of every training sequence.

        ``sequences`` (a ``Sequences`` or ``ExpandedSequences`` from
        :func:`recaug.expand.expand_training`) replaces the training rows: each row is its own
        sequence; ``train`` still gives the validation histories and fits the augmenters.
        ``init_from`` (a fitted model of the same class and shape) gives the starting weights
        (fine-tuning, e.g. ASReP's reversed pre-training).
        """
        self.item_space_ = self._item_space(train, valid, item_space)
        weights = self._training_weights(train, sequences)
        self.module_ = self._start_module(init_from)
        seqs = (
            Sequences.from_interactions(train)
            if sequences is None
            else getattr(sequences, "sequences", sequences)
        )
        rows, keys, row_weights = self._rows(seqs, self.module_.padding_side, weights)
        online, views = self._fit_augmenters(train)
        training = _NextItemTraining(self, rows, keys, row_weights, online=online, views=views)
        val = validation_data(train, valid) if valid is not None and len(valid) else None
        data = (rows, valid) if row_weights is None else (rows, valid, row_weights)  # weights identify the fit
        fit_loop(
            self, self.module_, training.batch_loss, len(rows), self.train_config, generator=training.gen,
            valid=val, on_epoch=training.on_epoch, extra_generators=(training.cl_gen,), data=data,
        )
        return self

    def _training_weights(self, train: Interactions, sequences: Any | None) -> np.ndarray | None:
        """The ``weight`` column aligned with the training items, or ``None`` when it is not used.

        ``weighted=False`` ignores it; offline-expanded rows, online views and RepPad rebuild the
        rows, so with them it is ignored with a warning.
        """
        weights = sequence_weights(train) if self.weighted else None
        if weights is not None and (sequences is not None or self.augmenter is not None or self.repeat_pad):
            warn_if_weighted(train, f"{type(self).__name__} with offline or online views or repeat_pad")
            return None
        return weights

    def _fit_augmenters(self, train: Interactions) -> tuple[Augmenter | None, Augmenter | None]:
        """Fit the augmenters on ``train`` only (the leakage guard): ``(online, views)``.

        ``online``: ``augmenter`` applied to a row with probability ``aug_prob`` (``None``
        without an ``augmenter``); ``views``: CL4SRec's view augmenter (``cl_augmenter``, by
        default :data:`~recaug.models.contrastive.CL4SREC_VIEWS`; ``None`` without CL4SRec).
        """
        online = None
        if self.augmenter is not None:
            self.augmenter.fit(train)
            online = cl.online_augmenter(self.augmenter, self.aug_prob)
        views = None
        if self.contrastive == "cl4srec":
            if self.cl_augmenter is None:
                self.cl_augmenter = cl.build_augmenter(cl.CL4SREC_VIEWS)
            assert self.cl_augmenter is not None
            views = self.cl_augmenter.fit(train)
        return online, views

    def _score_all(self, histories: Sequences) -> torch.Tensor:
        """Dot product of the hidden state after the last item with every item embedding.

        Rows are processed in order of length, each chunk trimmed to its longest row (exact:
        padding never influences real positions), then put back in input order.
        """
        with self._inference() as net:
            side, device = net.padding_side, self.torch_device
            x = padded_items(histories, self.max_len, self.item_space_, side=side)
            lengths = torch.from_numpy(np.minimum(histories.lengths, self.max_len))
            order = torch.argsort(lengths, stable=True)
            scores = torch.empty(len(histories), self.item_space_)
            for lo in range(0, len(histories), self.score_batch):
                rows = order[lo : lo + self.score_batch]
                width = max(int(lengths[rows].max()), 1)
                hidden = net(_trim(x[rows], width, side).to(device))
                if side == "left":
                    h = hidden[:, -1]
                else:
                    last = (lengths[rows] - 1).clamp_min(0).to(device)
                    h = hidden[torch.arange(len(rows), device=device), last]
                scores[rows] = (h @ net.item_embedding.weight.T).cpu()
        return finish_scores(scores)


@dataclass
class _Batch:
    """A batch of training rows as the network sees them (after online views and RepPad)."""

    #: ``(B, L)`` input items and the next item at every position
    inputs: torch.Tensor
    targets: torch.Tensor
    #: ``(B,)`` the training row each batch row comes from (a row repeats with ``n_views > 1``)
    row_ids: torch.Tensor
    #: ``(B, L)`` the weight of every target, ``None`` when unweighted
    weights: torch.Tensor | None
    #: ``(B,)`` columns each row's inputs occupy, and its context's (DuoRec; else the same)
    spans: torch.Tensor
    context_spans: torch.Tensor


class _NextItemTraining:
    """What one :meth:`NextItemRecommender.fit` trains on, and the loss of a batch of it.

    Holds the prepared training rows and the two random streams the losses draw from:
    ``gen`` (seed + 1: ``fit_loop`` shuffles with it; BCE / sampled-softmax negatives) and
    ``cl_gen`` (seed + 2: DuoRec's same-target partners). Augmented views are not drawn from
    either: they are keyed by ``epoch_seed(seed, epoch)`` and each row's user key, so a row's
    views never depend on its batch mates. ``fit_loop`` calls :meth:`on_epoch` at the start of
    every epoch and :meth:`batch_loss` for every batch.
    """

    def __init__(
        self,
        model: NextItemRecommender,
        rows: torch.Tensor,
        keys: torch.Tensor,
        weights: torch.Tensor | None,
        *,
        online: Augmenter | None,
        views: Augmenter | None,
    ) -> None:
        """``rows`` / ``keys`` / ``weights``: :meth:`NextItemRecommender._rows`; ``online`` /
        ``views``: :meth:`NextItemRecommender._fit_augmenters`."""
        self.model = model
        self.net = model.module_
        self.side = self.net.padding_side
        self.device = model.torch_device
        self.gen = model._generator()
        self.cl_gen = torch.Generator().manual_seed(int(model.seed) + 2)
        self.rows, self.keys = rows, keys
        self.inputs, self.targets = rows[:, :-1], rows[:, 1:]
        self.target_weights = None if weights is None else weights[:, 1:]
        # the sequence each row summarises: what CL4SRec augments and DuoRec pairs up
        self.contexts = cl.context(self.inputs, self.targets, self.side) if model.contrastive else self.inputs
        self.online = online
        self.views = views
        self.index = None
        if model.contrastive == "duorec":
            last = cl.last_targets(self.targets, cl.spans(self.contexts, self.side), self.side)
            self.index = cl.TargetIndex(last)
        self.epoch = 0

    def on_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` (1-based): its augmentation seeds follow from it."""
        self.epoch = epoch

    def batch_loss(self, rows: torch.Tensor) -> torch.Tensor:
        """Scalar loss of the training rows ``rows``: next-item loss plus any contrastive term."""
        model = self.model
        epoch_s = epoch_seed(model.seed, self.epoch)
        row_key = self.keys[rows]  # random streams follow the user, not the row's position
        batch = self._batch(rows, row_key, epoch_s)
        loss, anchors = self._next_item_loss(batch)
        if model.cl_weight > 0 and self.views is not None:
            loss = loss + model.cl_weight * self._cl4srec_loss(self.contexts[rows], row_key, epoch_s)
        if model.cl_weight > 0 and self.index is not None:
            assert anchors is not None
            loss = loss + model.cl_weight * self._duorec_loss(batch, anchors)
        return loss

    def _batch(self, rows: torch.Tensor, row_key: torch.Tensor, epoch_s: int) -> _Batch:
        """The rows ``rows``, or their ``n_views`` online views each; then RepPad if asked for."""
        model, side = self.model, self.side
        if self.online is not None:
            augmented = cl.augment_rows(
                self.online, self.rows[rows], epoch_seed(epoch_s, 0), row_key, n_views=model.n_views, side=side
            )
            x_b, y_b = augmented[:, :-1], augmented[:, 1:]
            keys, row_ids = row_key.repeat_interleave(model.n_views), rows.repeat_interleave(model.n_views)
        else:
            x_b, y_b, keys, row_ids = self.inputs[rows], self.targets[rows], row_key, rows
        w_b = None if self.target_weights is None else self.target_weights[rows]
        if model.repeat_pad:
            u = hash_uniform(epoch_seed(epoch_s, 3), keys.numpy())
            x_b, y_b = repeat_pad_pairs(x_b, y_b, side, torch.from_numpy(u), model.repeat_pad_delimiter)
        span = cl.spans(x_b, side)
        cspan = cl.spans(cl.context(x_b, y_b, side), side) if self.index is not None else span
        return _Batch(x_b, y_b, row_ids, w_b, span, cspan)

    def _next_item_loss(self, batch: _Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Next-item loss of every position that has a target, and DuoRec's anchors.

        The batch is split into length groups, each trimmed to its longest row (BCE negatives
        are drawn group by group, before its forward pass). The anchors (``None`` without
        DuoRec) are the ``cl_representation`` of each row's context, in batch order.
        """
        model, net, side = self.model, self.net, self.side
        n, span, cspan = model.item_space_, batch.spans, batch.context_spans
        hidden, wanted, negatives, anchor_parts, order, position_weights = [], [], [], [], [], []
        for group in _length_groups(span, model.length_groups):
            width = max(int(span[group].max()), 1)
            x, y = _trim(batch.inputs[group], width, side), _trim(batch.targets[group], width, side)
            where = (x != C.PAD_ID) & (y >= C.N_RESERVED)
            if model.loss == "bce":
                negatives.append(negatives_outside_rows(torch.cat([x, y], dim=1), width, n, self.gen)[where])
            out = net(x.to(self.device))
            hidden.append(out[where.to(self.device)])
            wanted.append(y[where])
            if batch.weights is not None:
                position_weights.append(_trim(batch.weights[group], width, side)[where])
            if self.index is not None:
                ctx, c = cl.context(x, y, side), cspan[group].clamp_max(width)
                anchor_parts.append(cl.represent(out, ctx, c, side, model.cl_representation, model.max_len))
                order.append(group)
        y_all = torch.cat(wanted)
        neg = torch.cat(negatives) if negatives else None
        if model.loss == "sampled_softmax":
            neg = uniform_items((len(y_all), model.n_negatives), n, self.gen)
        neg = None if neg is None else neg.to(self.device)
        w_all = torch.cat(position_weights).to(self.device) if position_weights else None
        loss = next_item_loss(torch.cat(hidden), y_all.to(self.device), net.item_embedding.weight, model.loss, neg, w_all)
        anchors = torch.cat(anchor_parts)[torch.argsort(torch.cat(order))] if anchor_parts else None
        return loss, anchors

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``cl_representation`` of every row of ``x`` (length-grouped, trimmed), in row order."""
        model, side = self.model, self.side
        span = cl.spans(x, side)
        parts, order = [], []
        for group in _length_groups(span, model.length_groups):
            width = max(int(span[group].max()), 1)
            trimmed = _trim(x[group], width, side)
            hidden = self.net(trimmed.to(self.device))
            parts.append(
                cl.represent(
                    hidden, trimmed, span[group].clamp_max(width), side, model.cl_representation, model.max_len
                )
            )
            order.append(group)
        return torch.cat(parts)[torch.argsort(torch.cat(order))]

    def _cl4srec_loss(self, x: torch.Tensor, keys: torch.Tensor, epoch_s: int) -> torch.Tensor:
        """InfoNCE between two augmented views of each input row (CL4SRec)."""
        if len(x) == 0:
            return x.new_zeros((), dtype=torch.float32)
        assert self.views is not None
        pair = cl.augment_rows(self.views, x, epoch_seed(epoch_s, 1), keys, n_views=2, side=self.side)
        z = self.encode(pair)
        ok = (cl.spans(pair, self.side) > 0).view(-1, 2).all(dim=1).to(z.device)
        z = z.view(-1, 2, z.shape[-1])[ok]
        return info_nce(z[:, 0], z[:, 1], self.model.cl_temperature)

    def _duorec_loss(self, batch: _Batch, anchors: torch.Tensor) -> torch.Tensor:
        """InfoNCE between each row and a same-target row (else its own dropout view) (DuoRec)."""
        assert self.index is not None
        side, span = self.side, batch.context_spans
        t = cl.last_targets(batch.targets, span, side)
        ok = (span > 0) & (t >= C.N_RESERVED)
        if not bool(ok.any()):
            return anchors.sum() * 0.0
        partner = self.index.partners(t, batch.row_ids, self.cl_gen)
        has = (partner >= 0).unsqueeze(1)
        x_pos = torch.where(has, self.contexts[partner.clamp_min(0)], cl.context(batch.inputs, batch.targets, side))
        mask = ok.to(anchors.device)
        positives = self.encode(x_pos[ok])
        return info_nce(anchors[mask], positives, self.model.cl_temperature, same=cl.same_matrix(t[ok]))


def row_keys(users: np.ndarray) -> np.ndarray:
    """Random-stream key of each training row: its user code, made unique per user.

    A user's ``k``-th row (offline-expanded data has several rows per user) gets
    ``user + k * (max user + 1)``, so a user's views do not depend on which rows come before
    it, on batch order or on which rows are dropped as unusable.
    """
    users = np.asarray(users, dtype=np.int64)
    if len(users) == 0:
        return users
    order = np.argsort(users, kind="stable")
    sorted_users = users[order]
    starts = np.r_[0, np.flatnonzero(sorted_users[1:] != sorted_users[:-1]) + 1]
    occurrence = np.empty(len(users), dtype=np.int64)
    occurrence[order] = np.arange(len(users)) - np.repeat(starts, np.diff(np.r_[starts, len(users)]))
    return users + occurrence * (int(users.max()) + 1)


def _trim(x: torch.Tensor, width: int, side: str) -> torch.Tensor:
    """Keep the ``width`` columns that hold items (the right end when left-padded)."""
    return x[:, x.shape[1] - width :] if side == "left" else x[:, :width]


def _length_groups(lengths: torch.Tensor, n_groups: int) -> tuple[torch.Tensor, ...]:
    """Positions of a batch split into ``n_groups`` groups of similar length (shortest first)."""
    order = torch.argsort(lengths, stable=True)
    return tuple(g for g in order.tensor_split(min(n_groups, max(len(order), 1))) if len(g))
