"""Action links: `mailto:` URIs (RFC 6068) for the commands a mail offers next.

A link is the mail's reply address (its mailbox, with its tag signed for the one the
mail goes to) with the command as the subject, percent-encoded: a click in a mail
client opens a new mail that only needs sending. The same object gives the mail its
`Reply-To`, so that a link and an answer always act for the same person.
"""

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from mailcmd.addressing.reply_keys import ReplyKeys
from mailcmd.parsing import join_words


@dataclass(frozen=True)
class ActionLinks:
    """The reply address and action links of one mail."""

    keys: ReplyKeys
    domain: str
    mailbox: str
    # The plain tag, signed into the address for `holder`; None: the bare mailbox.
    tag: str | None
    holder: str
    expires: date | None = None

    @property
    def address(self) -> str:
        """The reply address: `mailbox+TAG.KEY@domain`, or `mailbox@domain` without a tag."""
        if self.tag is None:
            return f"{self.mailbox}@{self.domain}"
        signed = self.keys.sign(self.mailbox, self.tag, self.holder, self.expires)
        return f"{self.mailbox}+{signed}@{self.domain}"

    def mailto(self, verb: str, *arguments: object) -> str:
        """A `mailto:` URI to the reply address whose subject is `verb arguments...`.

        Arguments are written as the subject parser reads them back (quoted when they
        hold spaces) and the subject is percent-encoded as UTF-8, so that any client
        sends exactly this command.
        """
        subject = join_words([verb, *(str(argument) for argument in arguments)])
        return f"mailto:{self.address}?subject={quote(subject, safe='')}"
