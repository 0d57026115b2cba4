"""Text as Tempodesk accepts it: one line for what ends up in headers and one-line
displays, printable text for bodies, e-mail addresses in one stored form."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # not tab, CR, LF
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x85]")


def single_line(value: str) -> str:
    """For text that ends up in e-mail headers and one-line displays (subjects, names):
    refuse what a mail server can never accept, at intake rather than on delivery."""
    if _LINE_BREAK.search(value) or CONTROL.search(value) or "\t" in value:
        raise ValueError("must be one line of text without control characters: remove line "
                         "breaks and tabs")
    return value


def printable(value: str) -> str:
    """For multi-line text: line breaks and tabs are fine, other control characters not."""
    if CONTROL.search(value):
        raise ValueError("contains control characters (e.g. NUL): send plain text")
    return value


def email_address(value: str) -> str:
    """An e-mail address as we store it (lower case); refused with the form to use."""
    if not _EMAIL.match(value) or CONTROL.search(value):
        raise ValueError("not an e-mail address: write it as name@example.com")
    return value.lower()


OneLine = Annotated[str, AfterValidator(single_line)]
PlainText = Annotated[str, AfterValidator(printable)]
EmailAddress = Annotated[str, AfterValidator(email_address)]


def mailbox_of(address: str) -> str:
    """The mailbox an address delivers to: case, a sub-address (``sam+hr@``, which the
    mail servers an MSP runs deliver to ``sam@``) and a trailing dot in the domain do not
    make another person."""
    local, _, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain.rstrip('.')}"
