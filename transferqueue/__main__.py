"""``python -m transferqueue``: the command line, as the ``transferqueue`` command (see
``python -m transferqueue --help``)."""

import sys

from ._cli.main import main

if __name__ == "__main__":
    sys.exit(main())
