"""Marketplace's tables: for now the outbox and inbox every service keeps."""

from __future__ import annotations

from services.kit.db import new_metadata

metadata = new_metadata()
