"""Running a message's commands in one savepoint, or holding them for confirmation.

The commands of one message run together: one `CommandError` rolls all of them back
and answers with it. A command that asks for confirmation (`confirm=True`, or
`ctx.confirm(...)`) makes the whole message a question instead: nothing any of its
commands did is kept, and the answer says what would happen, with a one-time
address; a reply to that address runs the same commands again, confirmed, once.
"""

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy.orm import Session

from mailcmd.addressing.confirmation_tags import confirmation_tag
from mailcmd.addressing.reply_keys import KeyRefused, ReplyKeys
from mailcmd.addressing.routes import Route, holder_of, key_refusal
from mailcmd.app.context import CommandError, ConfirmationNeeded, Context, Envelope, Reply, Sender
from mailcmd.app.dispatch import CommandRefused, Invocation, plan_again
from mailcmd.app.registry import Mailbox
from mailcmd.app.rendering import Rendered, Renderer
from mailcmd.db.models import Confirmation
from mailcmd.db.types import utc_now
from mailcmd.message import Attachment, MessageView
from mailcmd.operations.metrics.instruments import HANDLER_DURATION
from mailcmd.outbound.mails import (
    OutgoingMail,
    answer_mail,
    links_for,
    notification_mail,
    render_reply,
)
from mailcmd.runtime.confirmations import (
    HeldLine,
    close,
    held_lines,
    hold,
    key_expiry,
    wants_cancel,
    why_closed,
)
from mailcmd.settings import Settings


class CommandRunner:
    """Runs the invocations of one message, and answers replies to confirmations."""

    def __init__(
        self,
        settings: Settings,
        renderer: Renderer,
        keys: Callable[[], ReplyKeys],
        today: Callable[[], date],
        services: Mapping[type, object],
    ) -> None:
        """Render with `renderer`, sign reply addresses with `keys`, parse dates as of `today`;
        handlers have `services` injected by type, beside their `Context` and `Envelope`."""
        self._settings = settings
        self._renderer = renderer
        self._keys = keys
        self._today = today
        self._services = services

    def run(
        self,
        session: Session,
        mailbox: Mailbox,
        invocations: list[Invocation],
        domain: str,
        view: MessageView,
        envelope: Envelope,
        sender: Sender,
        tag: str | None,
        contexts: list[Context],
        undo: Callable[[], None] | None = None,
    ) -> list[OutgoingMail]:
        """Run `invocations` in one savepoint (or ask to confirm them); return the mail
        they cause, its addresses at `domain` (the one the mail was written to).
        `contexts` collects each command's context.

        With `undo`, no savepoint is taken: `undo` must roll back what the commands
        did (and nothing the caller wants kept) when they are refused or held.
        """
        mails, _ran = self._run(
            session, mailbox, invocations, domain, view, envelope, sender, tag, contexts, undo=undo
        )
        return mails

    def run_confirmed(
        self,
        session: Session,
        mailbox: Mailbox,
        route: Route,
        domain: str,
        view: MessageView,
        envelope: Envelope,
        sender: Sender,
        contexts: list[Context],
    ) -> list[OutgoingMail]:
        """Answer a reply to `mailbox`'s confirmation that `route` names: run its commands
        once, cancel them, or say why nothing ran (already done, cancelled, expired);
        addresses in the answer are at `domain`."""
        confirmation = None
        if route.confirmation is not None:
            confirmation = session.get(Confirmation, route.confirmation)
        if (
            confirmation is None
            or confirmation.mailbox != mailbox.name
            or confirmation.holder != holder_of(sender)
        ):
            # A key this server made, for a confirmation that is not this sender's
            # (ids start again in a new database, say): the answer to any key not theirs.
            refusal = key_refusal(replace(route, refused=KeyRefused()), domain)
            return [self._refusal(sender, view, mailbox.name, refusal)]
        closed = why_closed(confirmation, utc_now())
        if closed is None and wants_cancel(view):
            if close(session, confirmation, cancel=True):
                cancelled = [line.text for line in held_lines(confirmation)]
                rendered = self._renderer.render("mailcmd/cancelled", {"lines": cancelled})
                return [answer_mail(sender, view, mailbox.name, rendered)]
            closed = why_closed(confirmation, utc_now())
        if closed is not None:
            return [self._refusal(sender, view, mailbox.name, closed)]
        claim = session.begin_nested()
        if not close(session, confirmation):
            claim.rollback()
            closed = why_closed(confirmation, utc_now()) or "this confirmation is closed."
            return [self._refusal(sender, view, mailbox.name, closed)]
        lines = held_lines(confirmation)
        planned = plan_again(
            mailbox,
            confirmation.tag,
            [(line.text, line.from_body) for line in lines],
            sender,
            confirmation.asked_on,
        )
        if isinstance(planned, CommandRefused):
            claim.rollback()
            return [self._refusal(sender, view, mailbox.name, planned.message)]
        mails, ran = self._run(
            session,
            mailbox,
            planned,
            domain,
            view,
            envelope,
            sender,
            confirmation.tag,
            contexts,
            confirmed=True,
            text=confirmation.text,
        )
        # Commands that were refused did nothing: the confirmation stays open, and
        # answering again tries again.
        if ran:
            claim.commit()
        else:
            claim.rollback()
        return mails

    def _run(
        self,
        session: Session,
        mailbox: Mailbox,
        invocations: list[Invocation],
        domain: str,
        view: MessageView,
        envelope: Envelope,
        sender: Sender,
        tag: str | None,
        contexts: list[Context],
        *,
        confirmed: bool = False,
        text: str | None = None,
        undo: Callable[[], None] | None = None,
    ) -> tuple[list[OutgoingMail], bool]:
        """Run or hold `invocations`; also return whether they ran or were held (not refused)."""
        keys = self._keys()
        transcript: list[tuple[str, list[Rendered]]] = []
        questions: list[Rendered | None] = []
        notifications: list[OutgoingMail] = []
        files: list[Attachment] = []
        reply_tag: str | None = None
        # Known before the first reply is rendered, as each is rendered when its command
        # ran (a later command may change what it shows).
        in_transcript = len(invocations) > 1
        asked = False
        savepoint = None
        if undo is None:
            savepoint = session.begin_nested()
            undo = savepoint.rollback
        try:
            for invocation in invocations:
                context = Context(
                    sender=sender,
                    session=session,
                    message=view,
                    mailbox=invocation.command.mailbox,
                    address=f"{invocation.command.mailbox}@{domain}",
                    tag=tag,
                    timezone=self._settings.timezone,
                    default_template=invocation.command.template,
                    text="" if invocation.from_body else text,
                    confirmed=confirmed,
                )
                contexts.append(context)
                try:
                    result = _call(invocation, {**self._services, Envelope: envelope}, context)
                except ConfirmationNeeded:
                    result = None
                if context.question is not None or (invocation.command.confirm and not confirmed):
                    # Asked, even if the handler caught the signal: it stops here.
                    asked = True
                    questions.append(self._question(context.question))
                    continue
                questions.append(None)
                if context.unanswered:
                    continue
                if isinstance(result, Reply):
                    context.replies.append(result)
                if not context.replies:
                    context.replies.append(
                        Reply(template="mailcmd/done", values={"line": invocation.line})
                    )
                outputs = [
                    render_reply(
                        self._renderer,
                        reply,
                        links_for(
                            session,
                            keys,
                            domain,
                            mailbox=mailbox.name,
                            tag=reply.tag,
                            to=sender.address,
                            account_id=sender.account_id,
                        ),
                        in_transcript=in_transcript,
                    )
                    for reply in context.replies
                ]
                reply_tag = next((r.tag for r in reversed(context.replies) if r.tag), reply_tag)
                files += [file for reply in context.replies for file in reply.attachments]
                transcript.append((invocation.line, outputs))
                notifications += [
                    notification_mail(session, self._renderer, keys, domain, notice, mailbox.name)
                    for notice in context.notifications
                ]
            session.flush()
        except CommandError as error:
            undo()
            return [self._refusal(sender, view, mailbox.name, str(error))], False
        if asked:
            undo()
            ask = self._ask(session, mailbox, invocations, domain, questions, view, sender, tag)
            return [ask], True
        if savepoint is not None:
            savepoint.commit()
        if not transcript:
            return notifications, True
        if len(transcript) == 1 and len(transcript[0][1]) == 1:
            rendered = transcript[0][1][0]
        else:
            rendered = self._renderer.render("mailcmd/transcript", {"transcript": transcript})
        answer = answer_mail(sender, view, mailbox.name, rendered, reply_tag, files=tuple(files))
        return [answer, *notifications], True

    def _question(self, question: Reply | None) -> Rendered | None:
        # Rendered without links: the question's only address is the confirmation's,
        # which the framework's own template carries.
        return (
            None if question is None else self._renderer.render(question.template, question.values)
        )

    def _ask(
        self,
        session: Session,
        mailbox: Mailbox,
        invocations: list[Invocation],
        domain: str,
        questions: list[Rendered | None],
        view: MessageView,
        sender: Sender,
        tag: str | None,
    ) -> OutgoingMail:
        """Hold `invocations` and answer with what they would do and the address that confirms."""
        if mailbox.holds_secrets:
            raise RuntimeError(
                f"{mailbox.name}@ holds secrets: its commands cannot be kept for confirmation"
            )
        from_subject = any(not invocation.from_body for invocation in invocations)
        confirmation = hold(
            session,
            mailbox=mailbox.name,
            tag=tag,
            holder=holder_of(sender),
            lines=[HeldLine(invocation.line, invocation.from_body) for invocation in invocations],
            text=view.new_text if from_subject else "",
            asked_on=self._today(),
            lifetime=timedelta(seconds=self._settings.worker.confirmation_seconds),
        )
        expires = key_expiry(confirmation)
        links = links_for(
            session,
            self._keys(),
            domain,
            mailbox=mailbox.name,
            tag=confirmation_tag(confirmation.id),
            to=sender.address,
            account_id=sender.account_id,
            expires=expires,
        )
        asked = [question for question in questions if question is not None]
        if len(asked) == 1 and asked[0].subject:
            title = asked[0].subject
        else:
            title = "; ".join(invocation.line for invocation in invocations)
        values = {
            "steps": [
                (invocation.line, question)
                for invocation, question in zip(invocations, questions, strict=True)
            ],
            "title": title,
            "expires_at": confirmation.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        }
        rendered = self._renderer.render("mailcmd/confirmation", values, links)
        return answer_mail(sender, view, mailbox.name, rendered, links.tag, tag_expires=expires)

    def _refusal(
        self, sender: Sender, view: MessageView, from_local: str, message: str
    ) -> OutgoingMail:
        values = {"message": message, "usage": []}
        rendered = self._renderer.render("mailcmd/refusal", values)
        return replace(answer_mail(sender, view, from_local, rendered), refusal=True)


def _call(invocation: Invocation, services: Mapping[type, object], context: Context) -> object:
    function = invocation.command.function
    arguments = {**invocation.arguments}
    for name, kind in invocation.command.signature.injected_parameters.items():
        arguments[name] = context if kind is Context else services[kind]
    with HANDLER_DURATION.labels(invocation.command.mailbox, invocation.command.verb).time():
        if invocation.command.is_async:
            # The worker thread has no loop of its own; the handler gets a fresh one.
            return asyncio.run(function(**arguments))
        return function(**arguments)
