"""`mailcmd queue ...`: the inbound queue, as the receiver stored it."""

from email import message_from_bytes, policy
from typing import Annotated, Any

import typer

from mailcmd.cli.output import (
    JsonOption,
    LimitOption,
    RawOption,
    StatusOption,
    print_listing,
    print_record,
    shown_value,
    timestamp,
)
from mailcmd.cli.purging import DryRunOption, purge_and_report
from mailcmd.cli.state import RefusedError, cli_state, database_session
from mailcmd.db.models import InboundMessage, OutboundMessage, QueueStatus
from mailcmd.db.types import utc_now
from mailcmd.operations.retention import inbound_kinds
from mailcmd.outbound.outbox import delivery_of, mail_caused_by
from mailcmd.smtp.inbound_queue import find_inbound, list_inbound, requeue

app = typer.Typer(help="Inspect and purge the inbound queue.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: StatusOption = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """List inbound messages, newest first."""
    with database_session(ctx) as session:
        described = [_describe(message) for message in list_inbound(session, status, limit)]
    print_listing(
        described,
        as_json,
        ["ID", "RECEIVED", "STATUS", "TRIES", "ACCOUNT", "FROM", "TO", "SIZE"],
        lambda item: [
            str(item["id"]),
            item["received_at"],
            item["status"],
            str(item["attempts"]),
            item["account"] or "-",
            item["mail_from"] or "<>",
            ", ".join(item["rcpt_tos"]),
            str(item["size"]),
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    reference: Annotated[
        str,
        typer.Argument(
            metavar="ID",
            help="The message's queue id, or its trace id (from a log line or X-Mailcmd-Trace).",
        ),
    ],
    raw: RawOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show one inbound message: envelope, client, TLS, state, its headers, and the mail
    it caused with how each is delivered."""
    with database_session(ctx) as session:
        message = find_inbound(session, reference)
        if message is None:
            raise RefusedError(_not_found(reference))
        item = _describe(message)
        content = message.raw
        replies = [_describe_reply(reply) for reply in mail_caused_by(session, message.id)]
    dropped = item["text_dropped_at"]
    if dropped is None:
        parsed = message_from_bytes(content, policy=policy.default)
        item["subject"] = str(parsed.get("Subject", ""))
        item["message_id"] = str(parsed.get("Message-ID", ""))
    elif raw:
        raise RefusedError(f"message {reference}: its text was {_dropped(dropped)}")
    else:
        item["text"] = _dropped(dropped)
    if raw or as_json:
        print_record({**item, "replies": replies}, content if raw else None, as_json)
        return
    print_record(item, None, as_json)
    typer.echo()
    print_listing(
        replies,
        False,
        ["OUTBOUND", "TO", "DELIVERY", "STATUS", "TRIES", "LAST ERROR"],
        lambda reply: [
            str(reply["id"]),
            ", ".join(reply["rcpt_tos"]),
            reply["delivery"],
            reply["status"],
            str(reply["attempts"]),
            shown_value(reply["last_error"]),
        ],
    )


@app.command("retry")
def retry(
    ctx: typer.Context,
    queue_id: Annotated[int, typer.Argument(metavar="ID", help="The message's queue id.")],
) -> None:
    """Process a deferred or failed message again now, with a fresh count of attempts."""
    with database_session(ctx) as session:
        message = requeue(session, queue_id)
        if message is None:
            raise RefusedError(f"no inbound message with id {queue_id}")
        if message.status == QueueStatus.PROCESSING:
            raise RefusedError(f"message {queue_id} is being processed right now")
        if message.raw_dropped_at is not None:
            dropped = _dropped(timestamp(message.raw_dropped_at))
            raise RefusedError(f"message {queue_id} cannot run again: its text was {dropped}")
    typer.echo(f"message {queue_id} queued again")


@app.command("purge")
def purge(ctx: typer.Context, dry_run: DryRunOption = False) -> None:
    """Apply [retention]: drop processed messages' old texts, forget old Message-IDs,
    delete confirmations whose reply address has expired."""
    retention = cli_state(ctx).settings.retention
    purge_and_report(ctx, inbound_kinds(retention, utc_now()), dry_run)


def _dropped(moment: str | None) -> str:
    return (
        f"dropped at {moment} (retention.inbound_text_days); only its envelope and outcome are kept"
    )


def _describe(message: InboundMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "trace_id": message.trace_id,
        "status": message.status.value,
        "received_at": timestamp(message.received_at),
        "account": message.account.login if message.account else None,
        "mail_from": message.mail_from,
        "rcpt_tos": list(message.rcpt_tos),
        "size": message.size,
        "client_address": message.client_address,
        "helo": message.helo,
        # Not mail: what a person did in an app folder, which the worker runs as mail.
        "folder_action": message.folder_action,
        "tls": f"{message.tls_protocol} {message.tls_cipher}" if message.tls_protocol else None,
        "authentication_results": message.authentication_results,
        "verified_from": message.verified_from,
        "attempts": message.attempts,
        "next_attempt_at": timestamp(message.next_attempt_at),
        # The worker's note on a message it finished (a reply held back, mail it
        # ignored) is kept where a failed attempt's error is.
        "last_error": message.last_error if message.status != QueueStatus.DONE else None,
        "note": message.last_error if message.status == QueueStatus.DONE else None,
        "text_dropped_at": timestamp(message.raw_dropped_at),
    }


def _describe_reply(reply: OutboundMessage) -> dict[str, Any]:
    return {
        "id": reply.id,
        "rcpt_tos": list(reply.rcpt_tos),
        "delivery": delivery_of(reply),
        "status": reply.status.value,
        "attempts": reply.attempts,
        "last_error": reply.last_error,
    }


def _not_found(reference: str) -> str:
    if reference.isdigit():
        return f"no inbound message with id {reference}"
    # Mail made by a scheduled job's run, or a confirmation, has a trace of its own
    # and no inbound message: its log lines name its outbound id.
    return (
        f"no inbound message with trace id {reference!r}"
        " (mail a scheduled job made has none: its log lines name its outbound id)"
    )
