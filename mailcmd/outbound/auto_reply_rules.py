"""When mailcmd may answer a message automatically at all: RFC 3834's loop prevention.

How an answer is composed and where it goes is `mailcmd.outbound`'s.
"""

from mailcmd.message import MessageView


def may_auto_reply(view: MessageView, envelope_sender: str) -> bool:
    """Whether an automatic reply to this message is allowed (RFC 3834 section 2).

    Never to the null sender, to another auto-submitted message, to bulk, junk or
    list mail, or to mail from a mailing list.
    """
    if not envelope_sender or envelope_sender == "<>":
        return False
    if view.auto_submitted is not None and view.auto_submitted != "no":
        return False
    if view.precedence in ("bulk", "junk", "list"):
        return False
    return view.list_id is None
