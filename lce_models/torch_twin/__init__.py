"""PyTorch twins of the BBCU networks, for checkpoints of the reference code and GPU training.

``modules`` holds the networks, with the parameter names of the reference code (repository
Zj-BinXia/BBCU: ``BBCUL``, ``BBCUM``, the binary ``DnCNN``), ``mapping`` carries their
tensors into the Keras models, ``checkpoint`` reads and writes checkpoint files, ``verify``
checks a Keras model against its twin, ``sampler`` draws training pairs on the training device,
``training`` trains a twin, ``runs`` names the runs of a GPU window. torch is an optional
dependency (``requirements-torch.txt``): nothing else in ``lce_models`` imports this package.
"""
