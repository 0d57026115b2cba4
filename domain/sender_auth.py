"""Whether a message's sender is who its From header says: the receiving MTA's verdict,
read from ``Authentication-Results`` (RFC 8601) that carry an authserv-id the desk trusts.

The rule: the From domain passed DMARC, or a DKIM signature of that domain (or a parent
domain of it: relaxed alignment) passed, as written by a trusted server. Anyone can add an
``Authentication-Results`` header to a message, so headers naming any other authserv-id are
ignored, and the MTA must strip incoming headers that claim its own id (docs/security.md
says how). A trusted server's DMARC result other than ``pass`` for the From domain vetoes
everything else: a forged ``dmarc=pass`` cannot outvote the real ``dmarc=fail``; and a
trusted DMARC result about another From domain than the one read here (a From header read
two ways) vetoes too.

Parsing is authres's (PyPI ``authres``, the RFC 8601 parser of dkimpy and authheaders), on
headers already bounded in number and length by :mod:`domain.email_inbound`.
"""

from __future__ import annotations

import ipaddress
import re

import authres
from pydantic import BaseModel

_AUTHSERV_ID = re.compile(r"^\s*(?:\([^()]*\)\s*)?([A-Za-z0-9.-]+)")


class SenderVerdict(BaseModel):
    authenticated: bool
    reason: str

    @classmethod
    def failed(cls, reason: str) -> SenderVerdict:
        return cls(authenticated=False, reason=reason)


class _Result(BaseModel):
    method: str
    result: str
    properties: dict[str, str]


def _results(value: str, trusted: frozenset[str]) -> list[_Result] | None:
    """The results of one header, if a trusted server wrote it (None otherwise, or when it
    cannot be read: an unreadable header proves nothing)."""
    first = _AUTHSERV_ID.match(value)
    if first is None or first.group(1).lower().rstrip(".") not in trusted:
        return None
    try:
        header = authres.AuthenticationResultsHeader.parse_value(value)
    except (authres.AuthResError, ValueError, RecursionError):
        return None
    if str(header.authserv_id).lower().rstrip(".") not in trusted:
        return None
    return [_Result(method=str(r.method).lower(), result=str(r.result).lower(),
                    properties={f"{p.type}.{p.name}".lower(): str(p.value).lower().strip(".")
                                for p in r.properties})
            for r in header.results]


def _aligned(signing_domain: str, from_domain: str) -> bool:
    """Relaxed alignment without the public suffix list: the signing domain is the From
    domain or a parent of it with at least two labels (no one can publish a DKIM key for a
    public suffix, so a signature by one never verifies)."""
    return (signing_domain == from_domain or (
        "." in signing_domain and from_domain.endswith("." + signing_domain)))


def verdict(auth_results: list[str], sender: str, senders_named: int,
            trusted_authserv_ids: list[str]) -> SenderVerdict:
    if not trusted_authserv_ids:
        return SenderVerdict.failed("no trusted authserv-id is configured (mail."
                                    "trusted_authserv_ids): no sender is authenticated")
    if senders_named != 1 or not sender:
        return SenderVerdict.failed("the From header must name exactly one sender")
    domain = sender.rpartition("@")[2]
    trusted = frozenset(trusted_authserv_ids)
    results = [r for value in auth_results for r in (_results(value, trusted) or [])]
    if not results:
        return SenderVerdict.failed("no Authentication-Results from a trusted server "
                                    f"({', '.join(trusted_authserv_ids)})")
    # The server judged another From than the one read here (a header read two ways):
    # its verdict is not about this sender, and nothing else can be trusted either.
    other = next((r.properties["header.from"] for r in results if r.method == "dmarc"
                  and r.properties.get("header.from") not in (None, domain)), None)
    if other is not None:
        return SenderVerdict.failed(f"the trusted server judged From {other!r}, not {domain}")
    dmarc = [r for r in results if r.method == "dmarc"]  # all about this domain (above)
    refused = next((r for r in dmarc if r.result != "pass"), None)
    if refused is not None:
        return SenderVerdict.failed(f"dmarc={refused.result} for {domain}")
    if any(r.properties.get("header.from") == domain for r in dmarc):
        return SenderVerdict(authenticated=True, reason=f"dmarc=pass for {domain}")
    for r in results:
        signer = r.properties.get("header.d") or r.properties.get(
            "header.i", "").rpartition("@")[2]
        if r.method == "dkim" and r.result == "pass" and signer and _aligned(signer, domain):
            return SenderVerdict(authenticated=True,
                                 reason=f"dkim=pass by {signer}, aligned with {domain}")
    return SenderVerdict.failed(f"no dmarc=pass or aligned dkim=pass for {domain}")


def judged(auth_results: list[str], sender: str, senders_named: int,
           trusted_authserv_ids: list[str], through_msp_mta: bool) -> SenderVerdict:
    """The verdict on a message as a door took it. Only mail that came through the MSP's
    own MTA (its gateway key, or `tempodesk smtp` behind it: ``through_msp_mta``) carries
    headers that MTA wrote: a client's own integration key could write any
    Authentication-Results it likes, so nothing it posts is authenticated."""
    return _gated(through_msp_mta, "posted with a client's own key: its "
                  "Authentication-Results prove nothing",
                  auth_results, sender, senders_named, trusted_authserv_ids)


def _gated(believed: bool, why_not: str, auth_results: list[str], sender: str,
           senders_named: int, trusted_authserv_ids: list[str]) -> SenderVerdict:
    """The one gate both doors pass: headers are read only from the MSP's own MTA."""
    if not believed:
        return SenderVerdict.failed(why_not)
    return verdict(auth_results, sender, senders_named, trusted_authserv_ids)


def from_trusted_relay(peer: str, trusted_relays: list[str]) -> bool:
    """Whether the SMTP peer's address is one of the MSP's own relays (addresses or CIDR
    networks, as :class:`domain.mail_config.SmtpLimits` validated them). An IPv4 peer seen
    through an IPv6 socket (``::ffff:192.0.2.25``) is its IPv4 address."""
    try:
        address = ipaddress.ip_address(peer.strip().split("%")[0])
    except ValueError:  # no address (a Unix socket, ...): not a relay
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(relay) for relay in trusted_relays)


def judged_at_smtp(auth_results: list[str], sender: str, senders_named: int,
                   trusted_authserv_ids: list[str], peer: str,
                   trusted_relays: list[str]) -> SenderVerdict:
    """The verdict on a message the SMTP listener took from ``peer``. RFC 8601 section 5:
    an Authentication-Results header is believed only when the message reached us through
    the MTA that wrote it; anyone else connecting can write any header it likes, so mail
    from a peer outside ``trusted_relays`` is unauthenticated (recorded, never acts)."""
    return _gated(from_trusted_relay(peer, trusted_relays),
                  f"sent straight from {peer[:64] or 'an unknown peer'}, not through a trusted "
                  "relay (mail.smtp.trusted_relays): its Authentication-Results prove nothing",
                  auth_results, sender, senders_named, trusted_authserv_ids)


def smtp_reply(action: str, ticket_id: str | None, authenticated: bool | None) -> str:
    """The text after ``250 2.0.0`` for a message the listener took. Whoever connects reads
    it, so it never tells an unproven sender (or one whose mail is ignored) whether a ticket
    exists: their reply is the same for every ticket id, real or made up."""
    if not authenticated:
        return "accepted"
    if action == "ignored" or not ticket_id:
        return action
    return f"{action} {ticket_id}"
