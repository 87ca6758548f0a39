"""The service layer: storage, parsing, computation, jobs, cache, telemetry; no HTTP here."""
