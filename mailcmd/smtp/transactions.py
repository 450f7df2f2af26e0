"""One log line per SMTP transaction, as Postfix writes them: who, what, and the result."""

import logging
from typing import Any

from mailcmd.operations.metrics.instruments import count_smtp_transaction

log = logging.getLogger("mailcmd.smtp.transactions")


def log_transaction(result: str, **fields: Any) -> None:
    """Log one transaction's outcome with its fields (queue id, client, account, ...).

    The text form is `key=value` pairs; the JSON log format gets the fields as
    structured data under `smtp`.
    """
    shown = {key: value for key, value in fields.items() if value is not None}
    shown["result"] = result
    text = " ".join(f"{key}={_text(value)}" for key, value in shown.items())
    log.info("%s", text, extra={"smtp": shown})
    count_smtp_transaction(str(fields.get("port")), result)


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(f"<{item}>" for item in value) or "-"
    text = str(value)
    return f'"{text}"' if " " in text else text
