"""Recommenders that all follow ``recaug.models.base.Recommender``.

``Popularity`` ("pop"), ``ItemKNN`` ("itemknn"), ``BPRMF`` ("bpr"), ``MultVAE`` ("multvae"),
``GRU4Rec`` ("gru4rec") and ``SASRec`` ("sasrec"); the torch ones train with
:func:`recaug.models.training.fit_loop`.
"""

from recaug.models.base import Recommender, get_model_class, register
from recaug.models.bpr import BPRMF
from recaug.models.gru4rec import GRU4Rec
from recaug.models.itemknn import ItemKNN
from recaug.models.multvae import MultVAE
from recaug.models.popularity import Popularity
from recaug.models.sasrec import SASRec
from recaug.models.training import TrainConfig, fit_loop

__all__ = [
    "BPRMF",
    "GRU4Rec",
    "ItemKNN",
    "MultVAE",
    "Popularity",
    "Recommender",
    "SASRec",
    "TrainConfig",
    "fit_loop",
    "get_model_class",
    "register",
]
