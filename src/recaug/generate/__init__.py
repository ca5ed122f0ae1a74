"""The generate stage: synthesizers fitted on ``split.train`` that create synthetic interactions.

``VAESynthesizer`` ("vae", Mult-VAE), ``GANSynthesizer`` ("gan", CFGAN with partial masking and
zero reconstruction) and ``SequenceSynthesizer`` ("sequence", ASReP-style reversed SASRec) follow
:class:`~recaug.generate.base.Synthesizer`: ``fit(train) -> self``, ``sample(n_users)`` for new
synthetic users, ``complete(histories, k)`` for existing sparse users, ``save``/``load``.
:class:`~recaug.generate.order.OrderModel` turns generated item sets into sequences.

    from recaug.generate import from_config
    synth = from_config({"method": "vae", "epochs": 20}).fit(split.train, items=dataset.items)
    new_users = synth.sample(1000, seed=0, condition={"category": "Makeup"})
    extra = synth.complete(short_histories(split.train, 5), k=5, seed=0)  # users with <= 5 rows
"""

from recaug.generate.base import Synthesizer, short_histories
from recaug.generate.gan import GANSynthesizer
from recaug.generate.order import OrderModel
from recaug.generate.registry import available, config_keys, from_config, get_synthesizer, register
from recaug.generate.sequence import SequenceSynthesizer
from recaug.generate.vae import VAESynthesizer

__all__ = [
    "GANSynthesizer",
    "OrderModel",
    "SequenceSynthesizer",
    "Synthesizer",
    "VAESynthesizer",
    "available",
    "config_keys",
    "from_config",
    "get_synthesizer",
    "register",
    "short_histories",
]
