"""recaug.expand: sequence augmentation (the "expand" stage).

Operations (vectorised over whole CSR batches): :class:`Crop`, :class:`Mask`,
:class:`Reorder`, :class:`Insert`, :class:`Substitute`, :class:`Noise`, :class:`Slice`,
:class:`RepeatPad`, :class:`TimeJitter`. Combinators: :class:`Compose`, :class:`OneOf`,
:class:`Sometimes`, :class:`LengthAwarePolicy`. Build any of them from a dict with
:func:`from_config`. Offline use: :func:`expand_training`; online use:
:func:`augment_padded`.
"""

from recaug.expand.base import Augmenter
from recaug.expand.combinators import Compose, LengthAwarePolicy, OneOf, Sometimes
from recaug.expand.crop import Crop
from recaug.expand.insert import Insert
from recaug.expand.mask import Mask
from recaug.expand.noise import Noise
from recaug.expand.offline import ExpandedSequences, expand_training
from recaug.expand.online import augment_padded, epoch_seed, from_padded, to_padded
from recaug.expand.registry import available, config_keys, from_config, register
from recaug.expand.reorder import Reorder
from recaug.expand.repeat_pad import RepeatPad
from recaug.expand.similarity import ItemSimilarity, training_fingerprint
from recaug.expand.slice import Slice
from recaug.expand.substitute import Substitute
from recaug.expand.time_jitter import TimeJitter

__all__ = [
    "Augmenter",
    "Compose",
    "Crop",
    "ExpandedSequences",
    "Insert",
    "ItemSimilarity",
    "LengthAwarePolicy",
    "Mask",
    "Noise",
    "OneOf",
    "RepeatPad",
    "Reorder",
    "Slice",
    "Sometimes",
    "Substitute",
    "TimeJitter",
    "augment_padded",
    "available",
    "config_keys",
    "epoch_seed",
    "expand_training",
    "from_config",
    "from_padded",
    "register",
    "to_padded",
    "training_fingerprint",
]
