"""`mailcmd outbox ...`: the mail mailcmd has to send, as the operator inspects it."""

from datetime import timedelta
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Annotated, Any

import typer

from mailcmd.cli.output import (
    JsonOption,
    LimitOption,
    RawOption,
    StatusOption,
    print_listing,
    print_record,
    timestamp,
)
from mailcmd.cli.purging import DryRunOption, purge_and_report
from mailcmd.cli.state import RefusedError, cli_state, database_session
from mailcmd.db.models import OutboundMessage, QueueStatus
from mailcmd.db.queue_states import FINAL
from mailcmd.db.types import utc_now
from mailcmd.operations.retention import describe_days, outbox_kinds, outbox_rows
from mailcmd.outbound.outbox import (
    delivery_of,
    get_outbound,
    is_redacted,
    list_outbound,
    requeue_outbound,
)

app = typer.Typer(help="Inspect and purge the outbox.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: StatusOption = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """List outbound messages, newest first."""
    with database_session(ctx) as session:
        described = [_describe(message) for message in list_outbound(session, status, limit)]
    print_listing(
        described,
        as_json,
        ["ID", "CREATED", "STATUS", "TRIES", "TO", "SUBJECT"],
        lambda item: [
            str(item["id"]),
            item["created_at"],
            item["status"],
            str(item["attempts"]),
            ", ".join(item["rcpt_tos"]),
            item["subject"],
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    outbound_id: Annotated[int, typer.Argument(metavar="ID", help="The outbound message's id.")],
    raw: RawOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show one outbound message: envelope, state, headers (or the raw message)."""
    with database_session(ctx) as session:
        message = get_outbound(session, outbound_id)
        if message is None:
            raise RefusedError(f"no outbound message with id {outbound_id}")
        item = _describe(message)
        content = message.raw
    print_record(item, content if raw else None, as_json)


@app.command("retry")
def retry(
    ctx: typer.Context,
    outbound_id: Annotated[int, typer.Argument(metavar="ID", help="The outbound message's id.")],
) -> None:
    """Try to deliver a deferred or failed message again now."""
    with database_session(ctx) as session:
        message = requeue_outbound(session, outbound_id)
        if message is None:
            raise RefusedError(f"no outbound message with id {outbound_id}")
        if message.status == QueueStatus.PROCESSING:
            raise RefusedError(f"outbound message {outbound_id} is being sent right now")
        if is_redacted(message):
            raise RefusedError(
                f"outbound message {outbound_id} held a secret: only its header was kept"
                f" once it was {message.status.value}, so it cannot be sent again"
            )
    typer.echo(f"outbound message {outbound_id} queued again")


@app.command("purge")
def purge(
    ctx: typer.Context,
    status: Annotated[
        QueueStatus | None,
        typer.Option("--status", "-s", help="Only done or only failed messages."),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Age like 7d, 12h or 30m, instead of [retention]'s."),
    ] = None,
    dry_run: DryRunOption = False,
) -> None:
    """Apply [retention]: delete delivered and failed messages, and expunge old INBOX mail.

    With --status or --older-than, only messages in that state (done or failed)
    older than that age (else the state's retention) are deleted.
    """
    retention = cli_state(ctx).settings.retention
    now = utc_now()
    if status is None and older_than is None:
        purge_and_report(ctx, outbox_kinds(retention, now), dry_run)
        return
    kinds = []
    for chosen in [status] if status is not None else list(FINAL):
        if chosen not in FINAL:
            raise RefusedError(
                f"--status {chosen.value}: only done and failed messages are purged;"
                f" a {chosen.value} one is still to be delivered"
            )
        days = retention.delivered_days if chosen == QueueStatus.DONE else retention.failed_days
        if older_than is not None:
            kinds.append(outbox_rows(chosen, now - _age(older_than), older_than))
        elif days:
            kinds.append(outbox_rows(chosen, now - timedelta(days=days), describe_days(days)))
    purge_and_report(ctx, kinds, dry_run)


def _age(text: str) -> timedelta:
    units = {"d": "days", "h": "hours", "m": "minutes"}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdigit():
        raise RefusedError(f"--older-than {text!r}: use a number and d, h or m (e.g. 7d)")
    return timedelta(**{units[unit]: int(number)})


def _describe(message: OutboundMessage) -> dict[str, Any]:
    headers = BytesHeaderParser(policy=default_policy).parsebytes(message.raw)
    return {
        "id": message.id,
        "trace_id": message.trace_id,
        "delivery": delivery_of(message),
        "status": message.status.value,
        "created_at": timestamp(message.created_at),
        "mail_from": message.mail_from,
        "rcpt_tos": list(message.rcpt_tos),
        "subject": str(headers.get("Subject", "")),
        "message_id": str(headers.get("Message-ID", "")),
        "in_reply_to_queue_id": message.inbound_message_id,
        "attempts": message.attempts,
        "next_attempt_at": timestamp(message.next_attempt_at),
        "last_error": message.last_error,
        "size": len(message.raw),
        "holds_secret": message.holds_secret,
    }
