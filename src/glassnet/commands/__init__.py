"""Sub-commands of the ``glassnet`` command line; see ``glassnet.cli``."""
