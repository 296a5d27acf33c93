"""The fast path's passes, one a module, in the order ``converters.fastpath.PASSES`` runs them."""
