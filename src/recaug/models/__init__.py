"""Recommenders that all follow ``recaug.models.base.Recommender``."""

from recaug.models.base import Recommender, get_model_class, register

__all__ = ["Recommender", "get_model_class", "register"]
