"""recaug: data augmentation for e-commerce recommendation and search.

preprocess -> split -> generate -> expand -> fuse -> train -> evaluate -> report
"""

__version__ = "0.1.0"
