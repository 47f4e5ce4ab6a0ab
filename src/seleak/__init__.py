"""seleak: how much information a selectively encrypted image still leaks.

The package follows one pipeline, each layer importing only the ones before it::

    data -> encryption -> embedding -> estimators -> stats -> leakage -> study -> book / cli

``metrics`` and ``attacks`` sit beside ``estimators``: they read images and
embeddings and return numbers.
"""

__version__ = "0.1.0"
