"""Telemetry's use cases, one module per area: ingest, readings (queries of them),
retention, directory and bulk storage. Each change is one transaction, each read one
read-only unit of work."""

from __future__ import annotations

from collections.abc import Callable

from services.kit.db import UnitOfWork

UnitOfWorkFactory = Callable[..., UnitOfWork]
