"""Who is calling: a bearer API key (stored as a hash) or, if configured, an OIDC JWT.

The tenant always comes from the credential, never from the request. 401: no or bad
credential; 403: the role may not act; 404 (in the routes): another client's resource.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem
from desk.access import may
from desk.principal import Principal
from domain import tokens
from domain.roles import Action, Role
from domain.settings import Settings
from domain.tenants import TempodeskConfig, hash_api_key

_bearer = HTTPBearer(auto_error=False, description="an API key or an OIDC access token")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tempodesk"'}
_JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]


def unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, headers=_CHALLENGE)


class Authenticator:
    def __init__(self, settings: Settings, config: TempodeskConfig) -> None:
        self.settings = settings
        self.config = config
        self._keys = {
            key.sha256: Principal.of_client(client.id, key.role, key.id, "api_key", key.email)
            for client in config.clients for key in client.api_keys
        }
        self._keys.update({
            key.sha256: Principal(None, key.role, key.id, "api_key",
                                  None if key.clients is None else frozenset(key.clients))
            for key in config.staff
        })
        self._jwks = (jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True, lifespan=300)
                      if settings.oidc_enabled and settings.oidc_jwks_url else None)

    async def authenticate(self, token: str) -> Principal:
        if self.takes_jwts(token):
            return await self._from_jwt(token)
        # Hash first, then look up: timing reveals nothing about stored keys.
        principal = self._keys.get(hash_api_key(token))
        if principal is None:
            raise unauthorized("the API key is not valid: check the Authorization header "
                               "('Authorization: Bearer <key>')")
        return principal

    def takes_jwts(self, token: str) -> bool:
        """Whether ``token`` is read as an OIDC token here (OIDC is set up, and it has a
        JWT's shape); anything else is an API key."""
        return self._jwks is not None and token.count(".") == 2

    async def verified_claims(self, token: str) -> dict[str, Any]:
        """An OIDC token's claims, once its signature, issuer, audience and expiry are
        checked against TEMPODESK_OIDC_*; 401 with the reason otherwise."""
        assert self._jwks is not None
        try:
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            return jwt.decode(
                token, signing_key.key, algorithms=_JWT_ALGORITHMS,
                audience=self.settings.oidc_audience, issuer=self.settings.oidc_issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientError as exc:
            raise unauthorized(f"the token's signing key is unknown: {exc}") from exc
        except jwt.InvalidTokenError as exc:
            raise unauthorized(f"the token is not valid: {exc}") from exc

    async def _from_jwt(self, token: str) -> Principal:
        claims = await self.verified_claims(token)
        client_id = claims.get(self.settings.oidc_client_claim)
        role = claims.get(self.settings.oidc_role_claim)
        if self.config.client(str(client_id)) is None:
            raise Problem(403, "Forbidden",
                          f"the token's {self.settings.oidc_client_claim!r} claim names no "
                          "client of this desk")
        try:
            return Principal.of_client(str(client_id), Role(role), str(claims["sub"]), "oidc",
                                       claims.get("email"))
        except ValueError as exc:
            raise Problem(403, "Forbidden", f"the token's {self.settings.oidc_role_claim!r} "
                          f"claim must be one of: {', '.join(r.value for r in Role)}") from exc


def describe_rate(state, principal: Principal) -> str:
    count, per = state.config.rate_limit(principal.role, principal.client_id)
    unit = {1: "second", 60: "minute", 3600: "hour"}[per]
    return f"{count} requests a {unit}"


async def signed_link_limit(request: Request) -> None:
    """A route dependency for signed links (no credential): a rate per client address."""
    state = request.app.state.tempodesk
    address = request.client.host if request.client else "unknown"
    wait = state.limiter.wait_for_address(address)
    if wait:
        raise too_many(f"signed links take {state.config.signed_link_rate} from one address",
                       wait)


def signed_payload(state: Any, token: str, purpose: str, expired: Problem,
                   invalid_title: str = "Unauthorized", invalid_slug: str | None = None,
                   ) -> dict[str, Any]:
    """A signed link's payload (domain/tokens.py): ``expired`` (a 410 worded for the
    link) once it has expired, 401 if it is forged, damaged or for another purpose."""
    try:
        return tokens.verify(state.settings.secret, token, purpose)
    except tokens.ExpiredToken as exc:
        raise expired from exc
    except tokens.InvalidToken as exc:
        raise Problem(401, invalid_title, str(exc), slug=invalid_slug) from exc


def too_many(limit: str, wait: float) -> Problem:
    """429: what the limit is and when to retry."""
    return Problem(429, "Too many requests", f"{limit}: retry in {math.ceil(wait)} s",
                   headers={"Retry-After": str(max(1, math.ceil(wait)))})


def require(action: Action):
    """A route dependency: the caller's principal, if its role may perform ``action``."""

    async def dependency(request: Request,
                         credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
                         ) -> Principal:
        if credentials is None or not credentials.credentials:
            raise unauthorized("no credential: send 'Authorization: Bearer <API key>'")
        state = request.app.state.tempodesk
        principal = await state.auth.authenticate(credentials.credentials)
        wait = state.limiter.wait_for(principal)
        if wait:
            raise too_many(f"this credential may send {describe_rate(state, principal)}", wait)
        may(principal, action)
        return principal

    dependency.action = action  # type: ignore[attr-defined]  # for docs/api.md (api/reference.py)
    return Depends(dependency)
