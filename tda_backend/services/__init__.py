"""The service layer: storage, parsing, computation, jobs, cache, telemetry; no HTTP here."""

import os
from pathlib import Path

# prometheus_client reads PROMETHEUS_MULTIPROC_DIR when it is first imported (by telemetry) and
# fails if the directory is missing; creating it here, before that import, spares users the step.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
