"""The desk's mail settings (``mail:`` in ``tempodesk.yaml``): which receiving servers'
``Authentication-Results`` the desk believes, the MSP's escalations and approvals mailboxes,
and the inbound SMTP listener's limits. See docs/security.md, "Which mail may act"."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.rates import parse_rate
from domain.text import email_address

# An authserv-id as receiving servers write it: a host name (RFC 8601 section 2.5).
_AUTHSERV_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62}\.)*[a-z0-9-]{1,63}$")


class SmtpLimits(BaseModel):
    """Messages the ``tempodesk smtp`` listener takes; beyond them it answers 451 with the
    seconds to wait, so the sending server keeps the message and tries again later."""

    model_config = ConfigDict(extra="forbid")
    per_ip: str = Field("120/min", description="messages from one connecting address (with "
                        "an MTA in front, all mail comes from its address: size this for it)")
    per_sender: str = Field("10/min", description="messages from one From address")

    @field_validator("per_ip", "per_sender")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse_rate(value)
        return value.strip()


class MailConfig(BaseModel):
    """Nothing configured means: no sender is authenticated, so no mail approves, escalates
    or comments as staff (mail still opens tickets and adds notes)."""

    model_config = ConfigDict(extra="forbid")
    trusted_authserv_ids: list[str] = Field(default_factory=list, max_length=10, description=(
        "the authserv-ids your own receiving MTA writes in Authentication-Results (e.g. "
        "mx.msp.example); headers naming any other id are ignored"))
    escalations: str | None = Field(None, description="the full address, at one of "
                                    "msp_domains, that escalates a ticket when a client's "
                                    "person copies it on the ticket's thread")
    approvals: str | None = Field(None, description="the full address, at one of msp_domains, "
                                  "whose +token variants are each director's personal reply "
                                  "address on a quote (unset: quotes are approved only by link "
                                  "or the API)")
    smtp: SmtpLimits = SmtpLimits()

    @field_validator("trusted_authserv_ids")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        ids = [v.strip().lower().rstrip(".") for v in value]
        for authserv_id in ids:
            if not _AUTHSERV_ID.match(authserv_id):
                raise ValueError(f"{authserv_id[:80]!r} is not an authserv-id: write the host "
                                 "name your MTA puts first in Authentication-Results, e.g. "
                                 "'mx.msp.example'")
        return ids

    @field_validator("escalations", "approvals")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            address = email_address(value.strip())
        except ValueError:
            raise ValueError(f"{value[:80]!r} is not a full e-mail address: write e.g. "
                             "'escalations@msp.example'") from None
        if "+" in address.partition("@")[0]:
            raise ValueError(f"{address!r}: leave '+' out (the desk adds '+token' itself)")
        return address

    def check_domains(self, msp_domains: list[str]) -> MailConfig:
        """Escalations and approvals arrive only at the MSP's own domains (mail to the same
        local part elsewhere is not for us)."""
        for name in ("escalations", "approvals"):
            address = getattr(self, name)
            if address is not None and address.partition("@")[2] not in msp_domains:
                raise ValueError(f"mail.{name} {address!r} is not at one of msp_domains "
                                 f"({', '.join(msp_domains) or 'none set'}): use the MSP's "
                                 "own domain, or add it to msp_domains")
        return self
