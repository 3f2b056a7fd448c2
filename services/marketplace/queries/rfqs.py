"""RFQs' and quotes' SQL, and the acceptance of a quote that orders make inside their
own transactions.

Whatever changes a quote first locks its RFQ, then the quote: one order of locks, so
that two changes of one RFQ's quotes queue rather than deadlock, and so that what is
checked of an RFQ and its quotes (open, one open quote per seller) stays true until
the change commits. PostgreSQL takes the row locks; SQLite serialises writers anyway.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, insert, select, tuple_, update

from services.kit.errors import NotFound
from services.marketplace.domain.catalogue import Unit
from services.marketplace.domain.rfqs import AcceptedQuote, Quote, QuoteStatus, Rfq, RfqStatus, accept
from services.marketplace.storage import quotes, rfqs

Position = tuple[datetime, str]
"""Where a page of RFQs continues: after this (time, id)."""


def _rfq(row: Any) -> Rfq:
    mapping = row._mapping
    return Rfq(**{**mapping, "unit": Unit(mapping["unit"]), "status": RfqStatus(mapping["status"])})


def _quote(row: Any) -> Quote:
    mapping = row._mapping
    return Quote(**{**mapping, "status": QuoteStatus(mapping["status"])})


def add_rfq(connection: Connection, rfq: Rfq) -> None:
    connection.execute(
        insert(rfqs).values(**{**asdict(rfq), "unit": rfq.unit.value, "status": rfq.status.value})
    )


def find_rfq(connection: Connection, rfq_id: str) -> Rfq | None:
    row = connection.execute(select(rfqs).where(rfqs.c.id == rfq_id)).first()
    return _rfq(row) if row else None


def lock_rfq(connection: Connection, rfq_id: str) -> Rfq | None:
    """The RFQ, locked until the transaction ends: the first lock of any change of it or
    of its quotes."""
    row = connection.execute(select(rfqs).where(rfqs.c.id == rfq_id).with_for_update()).first()
    return _rfq(row) if row else None


def set_rfq_status(connection: Connection, rfq_id: str, status: RfqStatus) -> None:
    connection.execute(update(rfqs).where(rfqs.c.id == rfq_id).values(status=status.value))


def _page(
    conditions: list[ColumnElement[bool]],
    key: Any,
    descending: bool,
    after: Position | None,
    limit: int,
) -> Select[Any]:
    """Keyset pagination by (`key`, id), after `after`."""
    position = tuple_(key, rfqs.c.id)
    if after is not None:
        conditions = [*conditions, position < tuple_(*after) if descending else position > tuple_(*after)]
    ordering = [key.desc(), rfqs.c.id.desc()] if descending else [key.asc(), rfqs.c.id.asc()]
    return select(rfqs).where(*conditions).order_by(*ordering).limit(limit)


def open_rfqs(
    connection: Connection,
    tenant_id: str,
    category: str | None,
    now: datetime,
    after: Position | None,
    limit: int,
) -> list[Rfq]:
    """The market's open RFQs not yet due, but the tenant's own, soonest deadline first."""
    conditions = [rfqs.c.status == RfqStatus.OPEN.value, rfqs.c.deadline > now, rfqs.c.buyer_id != tenant_id]
    if category is not None:
        conditions.append(rfqs.c.category == category)
    query = _page(conditions, rfqs.c.deadline, False, after, limit)
    return [_rfq(row) for row in connection.execute(query)]


def buyer_rfqs(connection: Connection, buyer_id: str, after: Position | None, limit: int) -> list[Rfq]:
    """The buyer's own RFQs of every status, newest first."""
    query = _page([rfqs.c.buyer_id == buyer_id], rfqs.c.created_at, True, after, limit)
    return [_rfq(row) for row in connection.execute(query)]


def add_quote(connection: Connection, quote: Quote) -> None:
    connection.execute(insert(quotes).values(**{**asdict(quote), "status": quote.status.value}))


def quotes_of(connection: Connection, rfq_id: str, seller_id: str | None = None) -> list[Quote]:
    """The RFQ's quotes, or those of one seller, oldest first."""
    query = select(quotes).where(quotes.c.rfq_id == rfq_id)
    if seller_id is not None:
        query = query.where(quotes.c.seller_id == seller_id)
    return [_quote(row) for row in connection.execute(query.order_by(quotes.c.created_at, quotes.c.id))]


def lock_quote(connection: Connection, quote_id: str) -> tuple[Rfq, Quote] | None:
    """The quote and its RFQ, both locked until the transaction ends, the RFQ first."""
    rfq_id = connection.execute(select(quotes.c.rfq_id).where(quotes.c.id == quote_id)).scalar()
    if rfq_id is None:
        return None
    rfq = lock_rfq(connection, rfq_id)
    row = connection.execute(select(quotes).where(quotes.c.id == quote_id).with_for_update()).first()
    assert rfq is not None and row is not None, "quotes are never deleted, nor their RFQs"
    return rfq, _quote(row)


def set_quote_status(connection: Connection, quote_id: str, status: QuoteStatus) -> None:
    connection.execute(update(quotes).where(quotes.c.id == quote_id).values(status=status.value))


def reject_open_quotes(connection: Connection, rfq_id: str) -> None:
    """Rejects every quote of the RFQ still open (expired or not): it is awarded or cancelled."""
    connection.execute(
        update(quotes)
        .where(quotes.c.rfq_id == rfq_id, quotes.c.status == QuoteStatus.OPEN.value)
        .values(status=QuoteStatus.REJECTED.value)
    )


def take_quote(connection: Connection, buyer_id: str, quote_id: str, now: datetime) -> AcceptedQuote:
    """Accepts the buyer's quote inside the caller's transaction, which must commit it
    with the order it makes (or roll both back): the quote is accepted, the RFQ's other
    open quotes rejected and the RFQ awarded.

    NotFound unless the quote is of an RFQ of the buyer's; FailedPrecondition unless
    both are still open. Of two acceptances of quotes of one RFQ, the second waits for
    the first's lock on the RFQ and then finds it awarded."""
    locked = lock_quote(connection, quote_id)
    if locked is None or locked[0].buyer_id != buyer_id:
        raise NotFound("quote not found")
    rfq, quote = locked
    accepted = accept(rfq, quote, now)
    set_quote_status(connection, quote.id, QuoteStatus.ACCEPTED)
    reject_open_quotes(connection, rfq.id)
    set_rfq_status(connection, rfq.id, RfqStatus.AWARDED)
    return accepted
