"""Lay out the test suite of the built sdist for tox's wheel environment.

Usage: ``python .ci/sdist_suite.py DIST_DIR DEST_DIR``. Extracts the one sdist in DIST_DIR into
DEST_DIR (emptied first) without its ``transferqueue/`` source and egg-info: the tests, and the
subprocesses they start from that folder, can then import only the installed wheel, and a file
the tests need but the sdist lacks fails the run.
"""

from __future__ import annotations

import shutil
import sys
import tarfile
from pathlib import Path

# What the sdist holds beside the tests that would shadow the installed wheel: the package's
# source (first on sys.path when Python or pytest runs from DEST_DIR) and its egg-info (found
# by importlib.metadata before the wheel's dist-info).
SHADOWING = ("transferqueue", "transferqueue.egg-info")


def _the_sdist(dist: Path) -> Path:
    """The one ``transferqueue-*.tar.gz`` in ``dist``; exits naming what was found otherwise."""
    found = sorted(dist.glob("transferqueue-*.tar.gz"))
    if len(found) != 1:
        sys.exit(f"expected one transferqueue sdist in {dist}, found {[p.name for p in found]}")
    return found[0]


def _empty(folder: Path) -> None:
    """Make ``folder`` exist and hold nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def main(argv: list[str]) -> None:
    """Extract the sdist of ``argv[0]`` into ``argv[1]``, less what would shadow the wheel."""
    if len(argv) != 2:
        sys.exit(__doc__)
    sdist = _the_sdist(Path(argv[0]))
    dest = Path(argv[1])
    _empty(dest)
    with tarfile.open(sdist) as archive:
        # The data filter refuses absolute paths, links out of DEST_DIR and device files.
        archive.extractall(dest, filter="data")
    (top,) = dest.iterdir()
    for entry in top.iterdir():
        if entry.name not in SHADOWING:
            entry.rename(dest / entry.name)
    shutil.rmtree(top)
    print(f"{sdist.name}: suite laid out in {dest}, without {', '.join(SHADOWING)}")


if __name__ == "__main__":
    main(sys.argv[1:])
