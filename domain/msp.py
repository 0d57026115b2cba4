"""The MSP itself, as its clients read it: the name, address, contact points, logo and terms
on every e-mail and document the desk sends (``msp:`` in ``tempodesk.yaml``)::

    msp:
      name: Belton IT Services
      address: Level 3, 120 Collins Street, Melbourne VIC 3000
      phone: +61 3 9000 0000
      email: servicedesk@msp.example
      website: https://msp.example
      terms: Quotes exclude travel outside the metro area. Payment within 14 days.
      terms_url: https://msp.example/terms
      logo_url: https://cdn.msp.example/logo.png      # or
      logo_file: deploy/logo.png                      # served by the app at /brand/logo

A logo is either a URL (its origin is added to the pages' ``img-src``) or a PNG/JPEG file
the app serves itself; pages keep their Content-Security-Policy either way (api/pages.py).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.text import EmailAddress, OneLine, PlainText

LOGO_PATH = "/brand/logo"  # where the app serves ``logo_file``
LOGO_MAX_BYTES = 256 * 1024
# What a logo file may be: raster images only (an SVG can carry script).
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def logo_type(head: bytes) -> str | None:
    """The media type of a logo file from its first bytes, if it is one we serve."""
    return next((kind for magic, kind in LOGO_TYPES.items() if head.startswith(magic)), None)


def _https(value: str | None, what: str) -> str | None:
    if value is None:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"{what} must be a full URL, e.g. https://msp.example/{what}")
    return value


class MspConfig(BaseModel):
    """Who the desk is, on everything a client reads."""

    model_config = ConfigDict(extra="forbid")
    name: OneLine = Field("Tempodesk", min_length=1, max_length=120,
                          description="the MSP's trading name")
    address: OneLine | None = Field(None, max_length=200, description="one line: street, "
                                    "city, postcode")
    phone: OneLine | None = Field(None, max_length=40)
    email: EmailAddress | None = Field(None, description="the service desk's public address")
    website: str | None = Field(None, max_length=200)
    terms: PlainText | None = Field(None, max_length=2000, description="short terms printed "
                                    "on quotes and in every notice's footer")
    terms_url: str | None = Field(None, max_length=300, description="the full terms")
    logo_url: str | None = Field(None, max_length=500, description="an image URL (https)")
    logo_file: Path | None = Field(None, description=f"a PNG or JPEG (at most "
                                   f"{LOGO_MAX_BYTES // 1024} KiB) the app serves at "
                                   f"{LOGO_PATH}; relative to the working directory")

    @field_validator("website")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        return _https(value, "website")

    @field_validator("terms_url")
    @classmethod
    def _terms_url(cls, value: str | None) -> str | None:
        return _https(value, "terms_url")

    @field_validator("logo_url")
    @classmethod
    def _logo_url(cls, value: str | None) -> str | None:
        return _https(value, "logo_url")

    @field_validator("logo_file")
    @classmethod
    def _logo_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return value
        if not value.is_file():
            raise ValueError(f"no such file {str(value)!r}: give a PNG or JPEG path relative "
                             "to the directory the desk runs in, or use logo_url")
        if value.stat().st_size > LOGO_MAX_BYTES:
            raise ValueError(f"{value} is larger than {LOGO_MAX_BYTES // 1024} KiB: use a "
                             "smaller image")
        with value.open("rb") as handle:
            if logo_type(handle.read(8)) is None:
                raise ValueError(f"{value} is not a PNG or JPEG image: convert it (SVG is not "
                                 "served, it can carry script)")
        return value

    @model_validator(mode="after")
    def _one_logo(self) -> MspConfig:
        if self.logo_url and self.logo_file:
            raise ValueError("give either logo_url or logo_file, not both")
        return self

    def logo_src(self, public_url: str = "") -> str | None:
        """The logo's address for a page or a mail (``public_url`` makes the app's own file
        absolute, as mail needs)."""
        if self.logo_file is not None:
            return f"{public_url}{LOGO_PATH}"
        return self.logo_url

    def image_origins(self) -> list[str]:
        """Origins besides the app's own a page must allow images from (CSP ``img-src``)."""
        if self.logo_url is None:
            return []
        parts = urlsplit(self.logo_url)
        return [f"{parts.scheme}://{parts.netloc}"]

    def contact_line(self) -> str:
        """"Belton IT Services · Level 3, ... · +61 3 ... · servicedesk@..." (what is set)."""
        return " · ".join(p for p in (self.name, self.address, self.phone, self.email,
                                      self.website) if p)

    def terms_text(self) -> str | None:
        """The terms as a reader sees them: the text, and where the full terms are."""
        parts = [p for p in (self.terms and self.terms.strip(),
                             self.terms_url and f"Full terms: {self.terms_url}") if p]
        return "\n".join(parts) or None


class MspLines(BaseModel):
    """The MSP as a document prints it, frozen into the document when it is issued (a
    quote's PDF must give the same bytes later, whatever the config says then)."""

    name: str
    contact: str = ""
    terms: str = ""


def document_lines(msp: MspConfig) -> MspLines:
    """What a document issued now prints about the MSP."""
    contact = " · ".join(p for p in (msp.address, msp.phone, msp.email, msp.website) if p)
    return MspLines(name=msp.name, contact=contact, terms=msp.terms_text() or "")
