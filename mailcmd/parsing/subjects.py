"""Reply and forward prefixes and `[list tags]` in front of a subject's invocation."""

import re

# The prefixes mail clients put in front of a subject when replying or forwarding, in
# the languages they localise them to. Each counts only when a colon follows, so a
# verb that happens to be spelt like one (`re`, `r`) is never eaten.
REPLY_AND_FORWARD_PREFIXES = (
    # English and international
    "re",
    "fw",
    "fwd",
    # German (Antwort, Weitergeleitet; Lotus Notes writes "Antwort")
    "aw",
    "wg",
    "antwort",
    # Nordic (svar, vastaus, vidarebefordrat, välitetty)
    "sv",
    "vs",
    "vb",
    "vl",
    # Dutch
    "antw",
    "doorst",
    # Italian (risposta, riferimento, inoltrato)
    "r",
    "rif",
    "i",
    # French (transféré, référence, réponse)
    "tr",
    "réf",
    "ref",
    "rép",
    # Portuguese and Spanish (encaminhado, resposta, reenviado)
    "enc",
    "res",
    "rv",
    # Polish (odpowiedź, przekazanie dalej); Czech uses "odp" too
    "odp",
    "pd",
    # Turkish (yanit, iletilen)
    "ynt",
    "ilt",
    "İlt",
    # Hungarian (válasz, továbbítás)
    "vá",
    "továbbítás",
    # Baltic (atbilde, atsakymas)
    "atb",
    "ats",
    # Greek (απάντηση, προώθηση, σχετικά)
    "ατ",
    "απ",
    "πρθ",
    "σχετ",
    # Russian and Ukrainian (ответ, переслано, відповідь)
    "отв",
    "пересл",
    "відп",
    # Chinese, Japanese, Korean
    "回复",
    "回覆",
    "答复",
    "转发",
    "轉寄",
    "轉發",
    "返信",
    "転送",
    "답장",
    "회신",
    "전달",
    # Hebrew and Arabic
    "השב",
    "הועבר",
    "رد",
    "إعادة توجيه",
)

_ALTERNATIVES = "|".join(
    re.escape(prefix) for prefix in sorted(REPLY_AND_FORWARD_PREFIXES, key=len, reverse=True)
)

# All the prefixes and tags in one match, so that a hostile subject of thousands of
# `Re:` costs one pass, not one pass per prefix.
_LEADING_NOISE = re.compile(
    rf"""^(?:(?:
        \[[^\[\]]*\]                           # a [list tag]
      | (?:{_ALTERNATIVES})
        \s*(?:\[\d+\]|\(\d+\)|\^\d+)?          # Re[2]:  Re(2):  Re^2:
        \s*[:\uff1a]                           # ASCII or full-width colon; French "RE :"
    )\s*)+""",
    re.IGNORECASE | re.VERBOSE,
)


def strip_subject_prefixes(subject: str) -> str:
    """Return the subject without its leading reply/forward prefixes and `[list tags]`.

    Prefixes may repeat and mix with tags (`[tasks] Re: [ext] AW: add milk` gives
    `add milk`); each prefix counts only when followed by a colon. Runs of whitespace,
    including line folds, become one space, and the result is stripped.
    """
    return _LEADING_NOISE.sub("", " ".join(subject.split()), count=1)
