"""The networks: binarizers and layers, the BBCU units, BSRN's bit accumulation, and whole
networks by name (``registry``: ``build_model(NetworkConfig(name))``); model cards tie trained
weights to the configuration that built them."""

from lce_models.models import bbcu, bsrn, srresnet  # noqa: F401  (each registers its networks)
from lce_models.models.registry import NETWORKS, ConfigurationError, NetworkConfig, build_model

__all__ = ["NETWORKS", "ConfigurationError", "NetworkConfig", "build_model"]
