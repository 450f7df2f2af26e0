"""Processing a claimed message: handlers, replies, and the new status, in its batch's transaction.

Everything a message causes — the handlers' changes, the replies put in the outbox,
the message's new status — is kept together in its savepoint and committed with its
batch (see `batches`), and only while the worker still holds its claim. A crash or a
lost claim at any point leaves nothing behind, so the next attempt starts clean and
no side effect is repeated.
"""

import logging
import secrets
import traceback
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from functools import partial
from typing import Any

from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from mailcmd.addressing.addresses import mailbox_name
from mailcmd.addressing.domains import addressed_domain
from mailcmd.addressing.routes import RouteResolver, holder_of, key_refusal
from mailcmd.app.builtin_mailboxes import builtin_services
from mailcmd.app.builtin_mailboxes.help import HELP_ADDRESS
from mailcmd.app.context import Context, Envelope, Sender
from mailcmd.app.dispatch import CommandRefused, HelpRequest, plan_for
from mailcmd.app.help import help_page
from mailcmd.app.registry import Registry
from mailcmd.app.rendering import Renderer
from mailcmd.db.database import Database
from mailcmd.db.models import QueueStatus
from mailcmd.db.queue_states import HELD, QueueEvent, next_status
from mailcmd.db.queue_timing import retry_delay
from mailcmd.db.types import utc_now
from mailcmd.identity.senders import sender_of
from mailcmd.message import MessageView, parse_message
from mailcmd.operations.metrics.instruments import MAILS_HELD_BACK
from mailcmd.operations.traces import traced
from mailcmd.outbound.auto_reply_rules import may_auto_reply
from mailcmd.outbound.mails import OutgoingMail, answer_mail, reply_limit_notice
from mailcmd.outbound.queueing import deliver_locally, queue_outgoing
from mailcmd.runtime.attempts import (
    Attempt,
    Batch,
    ClaimLost,
    Ending,
    Outcome,
    time_limit_passed,
)
from mailcmd.runtime.batches import MessageSavepoint, run_batch
from mailcmd.runtime.claims import ClaimedMessage, record_on_claim, reload_claimed
from mailcmd.runtime.execution import CommandRunner
from mailcmd.runtime.folder_syncer import FolderSyncer
from mailcmd.runtime.loop_guards import came_back, first_time, start_again
from mailcmd.runtime.reply_policy import counted_address, held_back
from mailcmd.settings import Settings
from mailcmd.smtp.inbound_queue import without_text

log = logging.getLogger(__name__)

UNQUOTED_REFUSAL = "the command could not be read (what you wrote is not repeated here)"


class Processor:
    """Runs the commands of claimed messages; each call of `process_batch` is one transaction."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        renderer: Renderer,
        database: Database,
        routes: RouteResolver,
        folder_syncer: FolderSyncer,
        today: Callable[[], date] = date.today,
    ) -> None:
        """Process with `registry`'s handlers, rendering with `renderer`, in `database`;
        addresses are resolved, and reply tags signed, by `routes`; what commands
        change shows in the app folders once `folder_syncer` has synced them."""
        self._settings = settings
        self._registry = registry
        self._routes = routes
        self._renderer = renderer
        self._database = database
        self._today = today
        self._folder_syncer = folder_syncer
        self._runner = CommandRunner(
            settings, renderer, routes.keys, today, builtin_services(settings, registry)
        )

    def process_batch(self, batch: Batch) -> list[tuple[Attempt, Outcome]]:
        """Process `batch` in one transaction (see `batches`); runs in a worker thread."""
        timed_out = time_limit_passed(self._settings.worker.handler_timeout)
        return run_batch(self._database, batch, self._attempt, self._fail, timed_out)

    def record_failure(self, attempt: Attempt, error: BaseException | str) -> Outcome:
        """Record in a transaction of its own that `attempt` failed (see `_fail`)."""
        with traced(attempt.message.trace_id), self._database.writing() as session:
            if reload_claimed(session.connection(), attempt.queue_id, attempt.claim_token) is None:
                return Outcome(ClaimLost.LOST, "another worker holds the message")
            outcome = self._fail(session, attempt, error)
            session.commit()
            return outcome

    def _attempt(self, session: Session, attempt: Attempt, savepoint: MessageSavepoint) -> Outcome:
        max_attempts = self._settings.worker.max_attempts
        if attempt.message.attempts > max_attempts:
            # Claimed again after a worker died on it too many times: a poison message.
            reason = f"gave up after {attempt.message.attempts - 1} attempts that never finished"
            return self._fail(session, attempt, reason)
        return self._run(session, attempt, savepoint)

    def _fail(self, session: Session, attempt: Attempt, error: BaseException | str) -> Outcome:
        """Schedule a retry of `attempt`'s message, or fail it for good, in `session`.

        The caller has rolled back what the attempt did. A data error (a value the
        database cannot hold or compare, such as a number past a column's range)
        fails at once: every retry would fail the same way.
        """
        ref = secrets.token_hex(4)
        if isinstance(error, BaseException):
            detail = "".join(traceback.format_exception(error))
            log.error("ref=%s message %d failed", ref, attempt.queue_id, exc_info=error)
        else:
            detail = error
            log.error("ref=%s message %d failed: %s", ref, attempt.queue_id, error)
        worker = self._settings.worker
        row = attempt.message
        values: dict[str, object] = {
            "last_error": f"ref={ref}\n{detail}",
            "claim_token": None,
            "claimed_until": None,
        }
        if row.attempts >= worker.max_attempts or isinstance(error, DataError):
            failed = next_status(HELD, QueueEvent.GIVEN_UP)
            values.update(status=failed, failed_at=utc_now())
            if self._holds_secrets(row):
                text = without_text(row.raw)
                values.update(raw=text, size=len(text))
            outcome = Outcome(failed, f"ref={ref}")
        else:
            delay = retry_delay(row.attempts, worker.retry_seconds)
            deferred = next_status(HELD, QueueEvent.POSTPONED)
            values.update(status=deferred, next_attempt_at=utc_now() + timedelta(seconds=delay))
            outcome = Outcome(deferred, f"ref={ref}, retry in {delay:g} s", retry_in=delay)
        if not record_on_claim(session.connection(), row.id, row.claim_token, values):
            return Outcome(ClaimLost.LOST, "another worker holds the message")
        if outcome.status == QueueStatus.FAILED:
            self._apologise(session, row, ref)
            if row.folder_action is not None:
                # The action will not run: the folder shows the object as it is.
                self._folder_syncer.sync_after_commit(session, [row.account_id])
        return outcome

    def _run(self, session: Session, attempt: Attempt, savepoint: MessageSavepoint) -> Outcome:
        row = attempt.message
        view = parse_message(row.raw)
        sender = sender_of(session, row, view)
        if not may_auto_reply(view, row.mail_from):
            # Commands from robots and lists are not run: answering them is how
            # mail loops start, and nobody would read the reply.
            return self._finish(
                session, row, attempt, "ignored: automatic or list mail", ending="ignored"
            )
        if view.message_id and came_back(session, view.message_id, self._settings.domains):
            # A mail of ours that came back (a relay or a forward that returned it).
            return self._finish(
                session, row, attempt, "ignored: mailcmd's own mail came back", ending="ignored"
            )
        if view.message_id and not first_time(session, sender, view.message_id, row.id):
            return self._finish(
                session, row, attempt, "ignored: Message-ID seen before", ending="ignored"
            )
        undo = None
        if len(row.rcpt_tos) == 1:
            # The commands are all the message does after its seen-before row: undoing
            # them is starting the message again, and they need no savepoint of their own.
            # With several recipients each one's commands keep theirs (about 20 us of
            # CPU each): undoing one's refused commands by starting the message again
            # would run the others' handlers a second time.
            undo = partial(start_again, session, savepoint, sender, view.message_id, row.id)
        mails: list[OutgoingMail] = []
        contexts: list[Context] = []
        for recipient in row.rcpt_tos:
            # What answers mail to `tasks@team.example` comes from team.example.
            domain = addressed_domain(recipient, self._settings.domains)
            caused = self._for_recipient(
                session, recipient, domain, view, sender, row, contexts, undo
            )
            caused = [replace(mail, domain=domain) for mail in caused]
            if self._is_secret_mailbox(recipient):
                caused = [replace(mail, holds_secret=True) for mail in caused]
            mails += caused
        replies = [mail for mail in mails if mail.is_reply]
        refused = any(mail.refusal for mail in replies)
        if row.folder_action is not None:
            replies = _folder_action_replies(replies, row.folder_action)
        notifications = self._one_per_recipient([mail for mail in mails if not mail.is_reply])
        held = self._queue_mails(session, [*replies, *notifications], row, sender)
        # What the commands changed shows in the folders of whoever they concern: the
        # sender, and every account a notification went to (a shared object). A
        # folder action refused is undone there by the same sync.
        owners = [mail.owner.account_id for mail in mails if mail.owner is not None]
        self._folder_syncer.sync_after_commit(session, [sender.account_id, *owners])
        forget = any(context.forget_requested for context in contexts)
        ending: Ending = "refused" if refused else "done"
        return self._finish(session, row, attempt, "; ".join(held), forget=forget, ending=ending)

    def _for_recipient(
        self,
        session: Session,
        recipient: str,
        domain: str,
        view: MessageView,
        sender: Sender,
        row: ClaimedMessage,
        contexts: list[Context],
        undo: Callable[[], None] | None,
    ) -> list[OutgoingMail]:
        route = self._routes.resolve(recipient, holder_of(sender), self._today())
        mailbox = route.mailbox
        if mailbox is None:
            # An account's own address: the message is delivered, not run.
            deliver_locally(session, recipient, row.raw, f"message {row.id}")
            return []
        if route.refused is not None:
            # Nothing runs, and the answer is the same whatever the tag names.
            values = {"message": key_refusal(route, domain), "usage": []}
            refusal = self._reply(sender, view, mailbox.name, "mailcmd/refusal", values)
            return [replace(refusal, refusal=True)]
        envelope = Envelope(
            mail_from=row.mail_from,
            client_address=row.client_address,
            verified_from=row.verified_from,
        )
        if route.confirmation is not None:
            return self._runner.run_confirmed(
                session, mailbox, route, domain, view, envelope, sender, contexts
            )
        plan = plan_for(
            mailbox,
            route.tag,
            view.subject,
            view.new_text,
            sender,
            self._today(),
            view.attachments,
        )
        if mailbox.holds_secrets:
            # A reply says "Re: <subject>", and a password can be in the subject.
            view = replace(view, subject=mailbox.name)
        if isinstance(plan, HelpRequest):
            page = help_page(self._registry, sender, domain, plan.mailbox, plan.verb)
            return [self._reply(sender, view, mailbox.name, "mailcmd/help", {"page": page})]
        if isinstance(plan, CommandRefused):
            message = plan.message
            if plan.quotes_input and mailbox.holds_secrets:
                # A parse error quotes the words it could not use: here, maybe a password.
                message = UNQUOTED_REFUSAL
            values = {"message": message, "usage": list(plan.usage)}
            refusal = self._reply(sender, view, mailbox.name, "mailcmd/refusal", values)
            return [replace(refusal, refusal=True)]
        return self._runner.run(
            session, mailbox, plan, domain, view, envelope, sender, route.tag, contexts, undo
        )

    def _reply(
        self, sender: Sender, view: MessageView, from_local: str, template: str, values: Any
    ) -> OutgoingMail:
        return answer_mail(sender, view, from_local, self._renderer.render(template, values))

    def _one_per_recipient(self, notifications: list[OutgoingMail]) -> list[OutgoingMail]:
        """At most one notification per recipient for one inbound message: several become one."""
        by_recipient: dict[str, list[OutgoingMail]] = {}
        for mail in notifications:
            by_recipient.setdefault(counted_address(mail.to), []).append(mail)
        batched = []
        for mails in by_recipient.values():
            if len(mails) == 1:
                batched.append(mails[0])
                continue
            items = [(mail.subject, mail.rendered.text) for mail in mails]
            rendered = self._renderer.render("mailcmd/notifications", {"notifications": items})
            first = mails[0]
            subject = rendered.subject or f"{len(mails)} notifications"
            holds_secret = any(mail.holds_secret for mail in mails)
            files = tuple(file for mail in mails for file in mail.attachments)
            batched.append(
                replace(
                    first,
                    rendered=rendered,
                    subject=subject,
                    tag=None,
                    holds_secret=holds_secret,
                    attachments=files,
                )
            )
        return batched

    def _queue_mails(
        self, session: Session, mails: list[OutgoingMail], row: ClaimedMessage, sender: Sender
    ) -> list[str]:
        """Put `mails` in the outbox but those the policy holds back; return why each was."""
        worker = self._settings.worker
        notes = []
        for mail in mails:
            held = held_back(session, row, sender, mail.to, mail.is_reply, worker)
            if held is not None:
                log.warning("mail to %s held back: %s", mail.to, held.reason)
                MAILS_HELD_BACK.labels("reply" if mail.is_reply else "notification").inc()
                notes.append(f"mail to {mail.to} held back: {held.reason}")
                if held.notice_until is None:
                    continue
                mail = reply_limit_notice(
                    self._renderer, mail, held.notice_until, worker.reply_rate_limit
                )
            queue_outgoing(
                session,
                mail,
                self._settings.domain,
                self._routes.keys(),
                inbound_message_id=row.id,
                answers_account_id=sender.account_id,
            )
        return notes

    def _apologise(self, session: Session, row: ClaimedMessage, ref: str) -> None:
        view = parse_message(row.raw)
        if not may_auto_reply(view, row.mail_from):
            return
        sender = sender_of(session, row, view)
        first = next(iter(row.rcpt_tos), None)
        local = HELP_ADDRESS if first is None else mailbox_name(first)
        domain = None if first is None else addressed_domain(first, self._settings.domains)
        mail = self._reply(sender, view, local, "mailcmd/apology", {"ref": ref})
        # All a mailbox that holds secrets sends is treated alike, its apologies too.
        mail = replace(mail, holds_secret=self._holds_secrets(row), domain=domain)
        self._queue_mails(session, [mail], row, sender)

    def _finish(
        self,
        session: Session,
        row: ClaimedMessage,
        attempt: Attempt,
        note: str,
        *,
        forget: bool = False,
        ending: Ending = "done",
    ) -> Outcome:
        done = next_status(HELD, QueueEvent.SUCCEEDED)
        values: dict[str, object] = {
            "status": done,
            "claim_token": None,
            "claimed_until": None,
            "last_error": note or None,
        }
        if forget or self._holds_secrets(row):
            # On every way out (run, refused, a duplicate, automatic mail), not
            # only when a handler asks: a secret must not depend on the path taken.
            text = without_text(row.raw)
            values.update(raw=text, size=len(text))
        if not record_on_claim(session.connection(), row.id, attempt.claim_token, values):
            return Outcome(ClaimLost.LOST, "the claim expired while processing")
        return Outcome(done, note, ending=ending)

    def _holds_secrets(self, row: ClaimedMessage) -> bool:
        return any(self._is_secret_mailbox(recipient) for recipient in row.rcpt_tos)

    def _is_secret_mailbox(self, recipient: str) -> bool:
        mailbox = self._routes.mailbox_of(recipient)
        return mailbox is not None and mailbox.holds_secrets


def _folder_action_replies(replies: list[OutgoingMail], action: str) -> list[OutgoingMail]:
    """What answers a person's action in an app folder: nothing when it was done (the
    folder shows it), a refusal that says which action it answers, and a confirmation's
    question (its Reply-To expires; the action waits for the answer)."""
    kept = []
    for mail in replies:
        if mail.refusal:
            kept.append(replace(mail, subject=f"Not done: {action}"))
        elif mail.tag_expires is not None:
            kept.append(replace(mail, subject=f"Confirm: {action}"))
    return kept
