"""Members in the console: level, points and stored value with their entries."""

from __future__ import annotations

from functions import wiring
from functions.console._kit import _query, console_page

# -- members ---------------------------------------------------------------------------------------

@console_page("/console/members")
def members_page(ctx):
    user_id = (_query("user_id") or "").strip()
    if not user_id:
        return ctx.page("members.html", user_id="", member=None)
    service = wiring.members()
    balance, _ = service.entries(user_id, "balance", 50, None)
    points, _ = service.entries(user_id, "points", 50, None)
    return ctx.page("members.html", user_id=user_id, member=service.membership(user_id),
                    balance_entries=balance, points_entries=points)
