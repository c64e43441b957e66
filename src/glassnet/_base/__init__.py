"""The floor every room stands on: input checks (``checks``), name registries (``registry``), optional extras
(``extras``), BLAS thread control (``blas``), atomic files (``files``) and config schemas (``schema``).
Nothing here imports any other part of glassnet.
"""
