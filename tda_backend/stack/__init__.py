"""``tda-stack up|down|status|env [services...]``: the servers the production mode runs on.

Each service is a module of this package (kafka, flink, ...) started on loopback under a
project-local directory (``TDA_STACK_DIR``, default ``./var/stack``), without Docker.
"""

from tda_backend.stack.cli import main

__all__ = ["main"]
