"""Who a ticket may be assigned to: MSP staff, named by an address at one of the MSP's own
domains (``msp_domains``; the ticket's notices go to it) or by a staff sign-in name
without spaces (``sam.lee``, ``CORP\\sam``; never mailed). Anything else is refused, so an
assignment can never send a client's notices to an address nobody confirmed."""

from __future__ import annotations

import re

from domain.errors import FieldError
from domain.text import email_address

# A sign-in name: letters, digits and . _ - ' \ (a Windows DOMAIN\user), no spaces, no @.
_STAFF_NAME = re.compile(r"^[\w.'\\-]{1,64}$")


def assignee_refusal(assignee: str, msp_domains: list[str]) -> FieldError | None:
    """Why ``assignee`` cannot be assigned (field, message, fix), or None if it can."""
    domains = ", ".join(msp_domains) or "none set"
    example = f"sam.lee@{msp_domains[0]}" if msp_domains else "sam.lee"
    fix = (f"name an MSP staff member: their address at one of the MSP's domains "
           f"({domains}), e.g. {example}, or their sign-in name without spaces, e.g. sam.lee")
    if "@" not in assignee:
        if _STAFF_NAME.match(assignee):
            return None
        return FieldError("assignee", "neither a staff address nor a staff sign-in name", fix)
    try:
        address = email_address(assignee)
    except ValueError:
        return FieldError("assignee", "not an e-mail address", fix)
    domain = address.rpartition("@")[2].strip(".")
    if domain not in {d.lower() for d in msp_domains}:
        return FieldError("assignee", f"{domain} is not one of the MSP's own domains: an "
                          "assignee is MSP staff, and the ticket's notices go to them", fix)
    return None
