"""The Python samples of the docs (every ``.. code-block:: python`` under docs/), found by
their captions, so that tests run them as written."""

from __future__ import annotations

import pathlib
import re
import textwrap
from collections.abc import Iterator

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"


def docs_python_blocks() -> Iterator[tuple[pathlib.Path, str | None, str]]:
    """Every ``.. code-block:: python`` in docs/: (file, its caption or None, its code)."""
    for path in sorted(DOCS.rglob("*.rst")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            directive = re.fullmatch(r"(\s*)\.\. code-block:: python", line)
            if directive is None:
                continue
            indent = len(directive.group(1))
            caption = None
            body = number + 1
            while body < len(lines) and lines[body].strip().startswith(":"):
                option, _, value = lines[body].strip()[1:].partition(":")
                if option == "caption":
                    caption = value.strip()
                body += 1
            code = []
            for text in lines[body:]:
                if text.strip() and len(text) - len(text.lstrip()) <= indent:
                    break
                code.append(text)
            yield path, caption, textwrap.dedent("\n".join(code)).strip("\n") + "\n"


def docs_sample(caption: str) -> str:
    """The code of the one Python sample in docs/ captioned ``caption``."""
    (code,) = [code for _, name, code in docs_python_blocks() if name == caption]
    return code
