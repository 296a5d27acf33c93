"""The command lines, importable so that ``pip install -e .`` can install them as console
entry points (``lce-convert`` runs ``tools/convert.py``'s ``main``)."""
