"""`confirm@`: answers to the code mailed to an address an account declared.

The code reached only the declared address, so an answer that carries it (in the
plus-tag, the subject or the text) proves its owner read the mail, if the answer is
from that address: its From verified by DMARC, not merely claimed.
"""

import logging

from mailcmd.app.context import CommandError, Context, Envelope
from mailcmd.app.registry import builtin_app
from mailcmd.identity.hourly_counts import HourlyCounts
from mailcmd.identity.verified_senders import CONFIRM_ADDRESS, codes_in, confirm_external_address
from mailcmd.runtime.reply_policy import counted_address

log = logging.getLogger(__name__)


class StrangerAttempts(HourlyCounts):
    """Strangers' mail to confirm@ in this process, per sender and per client."""


app = builtin_app({StrangerAttempts: "the strangers' attempts"})
mailbox = app.mailbox(CONFIRM_ADDRESS, help="Confirming your address", auth="public")


@mailbox.default(template="mailcmd/address-confirmed")
def confirm_address(ctx: Context, envelope: Envelope, attempts: StrangerAttempts) -> None:
    """Confirm an address with the code mailed to it."""
    if not ctx.sender.is_account and not attempts.allow(
        f"sender {counted_address(envelope.mail_from)}", f"client {envelope.client_address}"
    ):
        # Over the limit nothing is tried and nothing answered: an answer would
        # be one more mail for whoever the stranger names.
        log.warning("confirm@ mail from %s ignored: over the hourly limit", envelope.mail_from)
        ctx.leave_unanswered()
        return
    address = envelope.verified_from
    if address is None:
        claimed = ctx.message.sender or "your address"
        raise CommandError(
            f"your mail could not be verified as coming from {claimed} (DKIM or SPF aligned"
            " with its domain), so no address was confirmed."
        )
    for code in codes_in(ctx.tag or "", ctx.message.subject, ctx.body):
        entry = confirm_external_address(ctx.session, address, code)
        if entry is not None:
            login = entry.account.login
            log.info("external address %s confirmed for %s", entry.address, login)
            ctx.reply(address=entry.address, login=login)
            return
    raise CommandError(
        f"no confirmation code for {address} was found in your mail, or it has expired."
    )
