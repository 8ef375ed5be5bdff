"""``python -m transferqueue.web [--host HOST] [--port PORT]``: the same as
``transferqueue demo --web``, which serves the demo page; kept for those who knew the
demo page by this command."""

import sys

from transferqueue._cli.main import main

if __name__ == "__main__":
    sys.exit(main(["demo", "--web", *sys.argv[1:]]))
