"""units@: unit conversion by mail, the README's example of a command module."""

from typing import Annotated, Literal

from mailcmd import CommandError, Context, Help, MailApp

app = MailApp()
units = app.mailbox("units", help="Convert temperatures and distances", auth="public")
Unit = Literal["c", "f", "km", "mi"]
TO_BASE = {"c": (1.0, 0.0), "f": (5 / 9, -32 * 5 / 9), "km": (1.0, 0.0), "mi": (1.609344, 0.0)}


@units.command("convert", template="units/result", example="convert 21.5 c f")
def convert(
    ctx: Context,
    value: Annotated[float, Help("how much")],
    unit: Annotated[Unit, Help("the unit it is in")],
    to: Annotated[Unit, Help("the unit wanted")],
) -> None:
    """Convert a temperature or a distance to another unit."""
    if {unit, to} not in ({"c", "f"}, {"km", "mi"}, {unit}):
        raise CommandError(f"{unit} cannot be converted to {to}")
    (scale, shift), (to_scale, to_shift) = TO_BASE[unit], TO_BASE[to]
    result = round((value * scale + shift - to_shift) / to_scale, 2)
    ctx.reply(value=value, unit=unit, result=result, to=to)
