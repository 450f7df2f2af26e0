"""units@: unit conversion by mail, the README's example of a command module."""

from typing import Literal

from mailcmd import CommandError, Context, MailApp

app = MailApp()
units = app.mailbox("units", help="Convert temperatures and distances", auth="public")
Unit = Literal["c", "f", "km", "mi"]
TO_BASE = {"c": (1.0, 0.0), "f": (5 / 9, -32 * 5 / 9), "km": (1.0, 0.0), "mi": (1.609344, 0.0)}


@units.command("convert", template="units/result")
def convert(ctx: Context, value: float, unit: Unit, to: Unit) -> None:
    """Convert VALUE from UNIT to TO: `convert 21.5 c f`, `convert 10 km mi`."""
    if {unit, to} not in ({"c", "f"}, {"km", "mi"}, {unit}):
        raise CommandError(f"{unit} cannot be converted to {to}")
    (scale, shift), (to_scale, to_shift) = TO_BASE[unit], TO_BASE[to]
    result = round((value * scale + shift - to_shift) / to_scale, 2)
    ctx.reply(value=value, unit=unit, result=result, to=to)
