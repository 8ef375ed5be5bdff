"""Sphinx configuration for transferqueue's documentation.

Built by ``tox -e docs`` with warnings as errors and nitpicky cross-references, offline:
there is no intersphinx (the build machine reaches no documentation site), so references
to the standard library and to third-party packages cannot resolve; they are listed in
``nitpick_ignore_regex`` below, each group with its reason, and everything of
transferqueue's own must resolve.
"""

from __future__ import annotations

import os
import sys

# The package of this checkout, whether or not it is installed (tox installs it).
sys.path.insert(0, os.path.abspath(".."))

import django
from django.conf import settings

# transferqueue.web.django.urls reads the TRANSFERQUEUE setting when it is imported, as
# Django imports it; autodoc imports it too, so Django needs settings of some kind.
settings.configure(TRANSFERQUEUE={"PUBLIC": True}, ALLOWED_HOSTS=["localhost"])
django.setup()

import transferqueue  # noqa: E402

project = "transferqueue"
author = "transferqueue's authors"
copyright = "the transferqueue authors, MIT licence"  # noqa: A001 (Sphinx's name)
release = transferqueue.__version__
version = release

extensions = ["sphinx.ext.autodoc"]

exclude_patterns = ["_build"]
root_doc = "index"
default_role = "any"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": True}

nitpicky = True
nitpick_ignore_regex = [
    # The standard library: no intersphinx (the docs build offline), so Python's own
    # classes cannot link to docs.python.org.
    (
        "py:.*",
        r"(os|io|ssl|datetime|collections\.abc|collections|typing|types|enum|logging"
        r"|threading|pathlib|concurrent\.futures|argparse|http\.client|weakref"
        r"|contextlib)(\..*)?",
    ),
    ("py:.*", r"random\..*"),
    # ... and its names as signatures show them unqualified.
    ("py:class", r"timedelta|datetime"),
    # Third-party packages, for the same reason: blinker's Signal, attrs, Flask, Django,
    # Werkzeug, redis-py, boto3/botocore and s3transfer.
    ("py:.*", r"(blinker|attr|attrs|flask|werkzeug|django|redis|boto3|botocore|s3transfer)(\..*)?"),
    # ... and their names as signatures show them unqualified: s3transfer's TransferConfig,
    # Django's HttpRequest and URLPattern.
    ("py:class", r"TransferConfig|HttpRequest|URLPattern"),
    # Internal types in public signatures and bases: the queue's backend protocol (whose
    # one public implementation is transferqueue.redis.RedisBackend), and the classes and
    # type variables of the underscore modules and packages, which are not part of the API
    # and so have no entry to link to.
    ("py:class", r"Backend"),
    ("py:(class|obj)", r"transferqueue(\.\w+)*\._\w+(\.\w+)+"),
    # boto3-stubs' client type: it exists only for type checkers (imported under
    # TYPE_CHECKING), so there is no runtime class to document or link to.
    ("py:class", r"(mypy_boto3_s3\..*|S3Client)"),
]
