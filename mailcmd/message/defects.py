"""What was wrong with a message, in words for the operator."""

from email.errors import MessageDefect

MAX_DEFECTS = 50


class Defects:
    """An ordered, de-duplicated and bounded list of notes on a message's defects.

    A hostile message can have thousands of defects; the operator needs the first few.
    """

    def __init__(self) -> None:
        self._notes: dict[str, None] = {}
        self._dropped = 0

    def add(self, where: str, what: str) -> None:
        """Note that `where` (a header name or a part) has problem `what`."""
        note = f"{where}: {what}"
        if note in self._notes:
            return
        if len(self._notes) < MAX_DEFECTS:
            self._notes[note] = None
        else:
            self._dropped += 1

    def add_found(self, where: str, found: list[MessageDefect]) -> None:
        """Note the defects the email package recorded on a message or part."""
        for defect in found:
            detail = " ".join(str(defect).split())[:120]
            name = type(defect).__name__
            self.add(where, f"{name} ({detail})" if detail and detail != name else name)

    def notes(self) -> tuple[str, ...]:
        """The notes in the order they were made; a last note counts any left out."""
        extra = (f"and {self._dropped} more",) if self._dropped else ()
        return (*self._notes, *extra)
