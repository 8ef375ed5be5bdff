"""``python -m transferqueue COMMAND ...`` runs the command line (see ``transferqueue
--help``); with no arguments, the queue demo."""

import sys

if __name__ == "__main__":
    if len(sys.argv) > 1:
        from ._cli import main as cli_main

        sys.exit(cli_main())
    from ._demo import main

    sys.exit(main())
