"""SCIM 2.0 (RFC 7643 and 7644) as this desk serves it at /scim/v2, on scim2-models: the
User resource with the enterprise extension and Tempodesk's onboarding extension, the
discovery documents, the tolerance Okta and Microsoft Entra need, and ETags. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import Field, ValidationError
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    Error,
    ETag,
    Extension,
    Filter,
    InvalidFilterException,
    InvalidPathException,
    InvalidValueException,
    Meta,
    Pagination,
    Patch,
    PayloadTooLargeException,
    ResourceType,
    Schema,
    SCIMException,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)

from domain.directory_user import DirectoryUser

PREFIX = "/scim/v2"
MEDIA_TYPE = "application/scim+json"
MAX_RESULTS = 200          # a page, and the users a filter other than `userName eq` reads
DEFAULT_COUNT = 100
# Sizes checked on the raw request before anything parses it (see check_sizes): scim2-models
# parses filters and paths in pure Python at about 7 µs a character, so a 1 MB filter held
# the event loop for 3.5 s.
BODY_MAX_BYTES = 64 * 1024          # a request: a stored user is at most 16 KiB of JSON
FILTER_MAX_CHARS = 1000
ATTRIBUTE_LIST_MAX_CHARS = 2000     # attributes / excludedAttributes, as sent
SORT_BY_MAX_CHARS = 200
PATCH_OPERATIONS_MAX = 100
PATCH_PATH_MAX_CHARS = 300          # Entra's longest, the enterprise manager, has 66
ONBOARDING_SCHEMA = "urn:tempodesk:params:scim:schemas:extension:onboarding:2.0:User"
ENTERPRISE_SCHEMA = str(EnterpriseUser.__schema__)


class TempodeskOnboarding(Extension):
    """Tempodesk onboarding: what a New User form needs that the core and enterprise
    schemas do not carry."""

    __schema__ = URN(ONBOARDING_SCHEMA)
    start_date: str | None = Field(None, description="The first working day, YYYY-MM-DD in "
                                   "the client's time zone. Default: the earliest day the "
                                   "contract's notice allows.")
    role_template: str | None = Field(None, description="A role in the client's Tempodesk "
                                      "config whose licences and groups the user gets.")
    manager_email: str | None = Field(None, description="The manager's e-mail address, when "
                                      "the enterprise manager is not a user of this "
                                      "directory.")


ScimUser = User[EnterpriseUser | TempodeskOnboarding]

# Okta and Entra as they are: Entra writes `emails[type eq "work"].value` before the entry
# exists and removes with a value; both may send attributes no schema here declares.
POLICY = ScimPolicy(unknown=ScimPolicy.Unknown.ignore,
                    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
                    remove_value_as_filter=ScimPolicy.RemoveValue.apply)

CONFIG = ServiceProviderConfig(
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETag(supported=True),
    pagination=Pagination(cursor=False, index=True, default_page_size=DEFAULT_COUNT,
                          max_page_size=MAX_RESULTS),
    authentication_schemes=[AuthenticationScheme(
        type=AuthenticationScheme.Type.oauthbearertoken, name="OAuth Bearer Token",
        description="A Tempodesk API key of role 'integration' (or an OIDC access token) "
                    "as 'Authorization: Bearer <key>'",
        spec_uri="https://www.rfc-editor.org/info/rfc6750", primary=True)],
)
USER_TYPE = ResourceType.from_resource(ScimUser)
PROVIDER = ScimProvider(models=[User, EnterpriseUser, TempodeskOnboarding],
                        resource_types=[USER_TYPE], config=CONFIG, policy=POLICY)
SCHEMAS: tuple[Schema, ...] = (*PROVIDER.schemas, ServiceProviderConfig.to_schema(),
                               ResourceType.to_schema(), Schema.to_schema())


T = TypeVar("T")


def validated(model: type[T], payload: Any, context: Context) -> T:
    """``payload`` read as ``model`` in a request ``context``; a refusal is the SCIM error
    scim2-models names for it (invalidSyntax, invalidValue, mutability ...)."""
    try:
        return model.model_validate(payload, scim_ctx=context,  # type: ignore[attr-defined]
                                    scim_provider=PROVIDER)
    except ValidationError as exc:
        raise SCIMException.from_error(Error.from_validation_errors(exc)[0]) from exc


def _sent(payload: dict[str, Any], name: str) -> Any:
    """The member ``name`` of a request (SCIM attribute names are case-insensitive)."""
    return next((v for k, v in payload.items() if isinstance(k, str) and k.lower() == name),
                None)


def _chars(value: Any) -> int:
    """The length of a string, or of the strings of a list (``attributes`` in a body)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(len(v) if isinstance(v, str) else 1 for v in value) + len(value)
    return 0


def check_sizes(payload: Any) -> None:
    """Refuse a search, a query's parameters or a PatchOp whose filter, attribute lists,
    sort key or operations are too large to parse, before anything parses them: the SCIM
    error (400 invalidFilter, invalidValue or invalidPath) says the limit."""
    if not isinstance(payload, dict):
        return  # not an object: validation refuses it at once
    scim_filter = _sent(payload, "filter")
    if _chars(scim_filter) > FILTER_MAX_CHARS:
        raise InvalidFilterException(
            detail=f"a filter is at most {FILTER_MAX_CHARS} characters (this one has "
                   f"{_chars(scim_filter):,}): filter on userName eq, or page with startIndex")
    for name, sent_name in (("attributes", "attributes"),
                            ("excludedattributes", "excludedAttributes")):
        if _chars(_sent(payload, name)) > ATTRIBUTE_LIST_MAX_CHARS:
            raise InvalidValueException(
                detail=f"{sent_name} is at most {ATTRIBUTE_LIST_MAX_CHARS} characters: name "
                       "each attribute once")
    if _chars(_sent(payload, "sortby")) > SORT_BY_MAX_CHARS:
        raise InvalidValueException(detail=f"sortBy is at most {SORT_BY_MAX_CHARS} "
                                    "characters: name one attribute")
    operations = _sent(payload, "operations")
    if isinstance(operations, list):
        if len(operations) > PATCH_OPERATIONS_MAX:
            raise InvalidValueException(detail=f"at most {PATCH_OPERATIONS_MAX} operations "
                                        "in one PATCH: send the rest in another")
        for operation in operations:
            path = _sent(operation, "path") if isinstance(operation, dict) else None
            if _chars(path) > PATCH_PATH_MAX_CHARS:
                raise InvalidPathException(
                    detail=f"a PATCH path is at most {PATCH_PATH_MAX_CHARS} characters: name "
                           "the attribute, with at most a short value filter")


def check_body_size(body: bytes) -> None:
    if len(body) > BODY_MAX_BYTES:
        raise PayloadTooLargeException(detail=f"a SCIM request is at most {BODY_MAX_BYTES:,} "
                                       "bytes: a user is far smaller; page a search with "
                                       "count and startIndex")


def stored(user: ScimUser) -> dict[str, Any]:
    """What a directory user keeps: the client's attributes, without the server's (id,
    meta, groups) and without a password (this desk never sets one)."""
    user = user.model_copy(update={"password": None})
    return user.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)


def loaded(user: DirectoryUser, location: str) -> ScimUser:
    """The stored user as a resource again, with its id and meta."""
    resource = ScimUser.model_validate(user.resource, scim_ctx=Context.DEFAULT)
    resource.id = user.user_id
    resource.meta = meta(user.created_at, user.modified_at, location, user.etag)
    return resource


def meta(created: datetime, modified: datetime, location: str, etag: str) -> Meta:
    return Meta(resource_type="User", created=created, last_modified=modified,
                location=location, version=etag)


def versions(if_match: str) -> set[int] | None:
    """The versions an If-Match header accepts (None: any, for '*'); entity tags that are
    not ours accept none."""
    accepted: set[int] = set()
    for tag in if_match.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        if tag == "*":
            return None
        if tag.isdigit() and len(tag) < 12:
            accepted.add(int(tag))
    return accepted


# ---------------------------------------------------------------- dialects


def _manager(value: Any, location_of) -> Any:
    """Entra sends the manager as the bare id, Okta as {"value": id}: RFC 7643 wants the
    reference too, so it is made from the id."""
    if isinstance(value, str):
        value = {"value": value}
    if isinstance(value, dict) and isinstance(value.get("value"), str) and not value.get("$ref"):
        value = {**value, "$ref": location_of(value["value"])}
    return value


def with_manager_refs(payload: Any, location_of) -> Any:
    """A User (or a PATCH value) whose enterprise manager carries its ``$ref``."""
    if not isinstance(payload, dict):
        return payload
    result = dict(payload)
    for key, value in payload.items():
        folded = key.lower()
        if folded == ENTERPRISE_SCHEMA.lower() and isinstance(value, dict):
            result[key] = {k: _manager(v, location_of) if k.lower() == "manager" else v
                           for k, v in value.items()}
        elif folded == f"{ENTERPRISE_SCHEMA}:manager".lower():
            result[key] = _manager(value, location_of)
    return result


def patch_with_manager_refs(payload: Any, location_of) -> Any:
    """A PatchOp whose operations on the enterprise manager carry its ``$ref``."""
    if not isinstance(payload, dict) or not isinstance(payload.get("Operations"), list):
        return payload
    operations = []
    for operation in payload["Operations"]:
        if isinstance(operation, dict) and "value" in operation:
            path = str(operation.get("path") or "").lower()
            value = operation["value"]
            if path == f"{ENTERPRISE_SCHEMA}:manager".lower():
                value = _manager(value, location_of)
            elif not path:
                value = with_manager_refs(value, location_of)
            operation = {**operation, "value": value}
        operations.append(operation)
    return {**payload, "Operations": operations}
