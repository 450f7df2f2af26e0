"""The outbox: mail mailcmd sends (replies, notifications), as stored for delivery."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcmd.db.models import OutboundMessage, QueueStatus


def list_outbound(
    session: Session, status: QueueStatus | None = None, limit: int = 100
) -> Sequence[OutboundMessage]:
    """Return the newest outbound messages first, optionally only those with `status`."""
    query = select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboundMessage.status == status)
    return session.scalars(query).all()


def get_outbound(session: Session, outbound_id: int) -> OutboundMessage | None:
    """Return the outbound message with `outbound_id`, or None."""
    return session.get(OutboundMessage, outbound_id)
