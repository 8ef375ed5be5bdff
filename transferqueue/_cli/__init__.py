"""The ``transferqueue`` command line."""
