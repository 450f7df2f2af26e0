"""Command parsing, pure: no I/O.

From a subject or body line to a handler's keyword arguments: reply prefixes stripped
(`subjects`), words split (`words`), and the handler's signature analysed once at
registration into a plan (`analysis`, `signatures`) that each message fills in, with
typed values (`value_types`, `dates`). One parameter may take the attached files
(`files`), an attached CSV file read into typed rows (`tables`). `suggest` offers
did-you-mean corrections.
"""

from mailcmd.parsing.analysis import analyse
from mailcmd.parsing.errors import CommandParseError, SignatureError
from mailcmd.parsing.files import Accepts
from mailcmd.parsing.parameters import Help, Parameter
from mailcmd.parsing.signatures import CommandSignature
from mailcmd.parsing.subjects import strip_subject_prefixes
from mailcmd.parsing.suggestions import suggest
from mailcmd.parsing.tables import Csv
from mailcmd.parsing.value_types import ValueType
from mailcmd.parsing.words import join_words, split_words

__all__ = [
    "Accepts",
    "CommandParseError",
    "CommandSignature",
    "Csv",
    "Help",
    "Parameter",
    "SignatureError",
    "ValueType",
    "analyse",
    "join_words",
    "split_words",
    "strip_subject_prefixes",
    "suggest",
]
