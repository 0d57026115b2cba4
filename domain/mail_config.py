"""The desk's mail settings (``mail:`` in ``tempodesk.yaml``): which receiving servers'
``Authentication-Results`` the desk believes, the MSP's escalations and approvals mailboxes,
and the inbound SMTP listener's limits. See docs/security.md, "Which mail may act"."""

from __future__ import annotations

import ipaddress
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

    trusted_relays: list[str] = Field(default_factory=list, max_length=50, description=(
        "the IP addresses or CIDR networks of your own receiving MTA(s) that relay mail to "
        "the listener; only mail arriving from one of them has its Authentication-Results "
        "believed (RFC 8601 section 5). Default none: no sender is authenticated over SMTP"))

    @field_validator("trusted_relays")
    @classmethod
    def _relays(cls, value: list[str]) -> list[str]:
        relays = []
        for relay in value:
            try:  # strict: 10.0.0.1/8 is a typo of 10.0.0.0/8 or of 10.0.0.1, not a guess
                relays.append(str(ipaddress.ip_network(relay.strip(), strict=True)))
            except ValueError:
                raise ValueError(f"{relay[:80]!r} is not an IP address or CIDR network: "
                                 "write your MTA's address, e.g. '192.0.2.25' or "
                                 "'192.0.2.0/28' (host bits zero)") from None
        return relays

    def believed_peers(self) -> str:
        """One line for the listener's start: whose Authentication-Results it believes."""
        if not self.trusted_relays:
            return ("Authentication-Results believed from no peer (mail.smtp.trusted_relays "
                    "is empty): no sender is authenticated over SMTP")
        return ("Authentication-Results believed only from "
                f"{', '.join(self.trusted_relays)} (mail.smtp.trusted_relays)")


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
