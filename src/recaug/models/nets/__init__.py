"""Plain ``nn.Module`` networks, kept apart from the recommenders so other stages can reuse them
(the VAE synthesizer reuses :class:`~recaug.models.nets.vae.VAENet`)."""

from recaug.models.nets.gru4rec import GRU4RecNet
from recaug.models.nets.sasrec import SASRecNet
from recaug.models.nets.vae import VAENet

__all__ = ["GRU4RecNet", "SASRecNet", "VAENet"]
