"""Marketplace fixtures for tests: its store on a migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from services.kit.bus import Publish
from services.kit.migrate import upgrade
from services.kit.store import Store
from services.marketplace.storage import metadata


@contextmanager
def marketplace_store(url: str, publish: Publish) -> Iterator[Store]:
    upgrade("marketplace", url)
    store = Store("marketplace", metadata, publish, url=url)
    try:
        yield store
    finally:
        store.close()
