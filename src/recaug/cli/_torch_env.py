"""Process settings PyTorch reads once, at import: set here, before the CLI imports torch.

The ``recaug`` command owns its process, so it turns on what PyTorch leaves off by default:
transparent huge pages behind CPU tensors of 2 MB and more (``THP_MEM_ALLOC_ENABLE``). Training
allocates (batch × items) matrices and item-table gradients afresh every step; with 4 KB pages
their page faults cost a Mult-VAE step on Sports ~30% of its CPU time (0.43 s → 0.34 s per step
with huge pages, AMD EPYC, one thread). A value the user set, e.g. ``THP_MEM_ALLOC_ENABLE=0``,
is kept. Python API users set the variable themselves before importing torch.
"""

import os

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
