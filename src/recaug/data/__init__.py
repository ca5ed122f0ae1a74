"""Data types shared by every stage: Vocabulary, Interactions, Sequences, Dataset."""

from recaug.data.dataset import Dataset
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.data.vocabulary import Vocabulary

__all__ = ["Dataset", "Interactions", "Sequences", "Vocabulary"]
