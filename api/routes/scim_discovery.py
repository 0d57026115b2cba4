"""SCIM discovery (RFC 7644 §4): what this service provider supports, its schemas and its
resource types, all scim2-models objects. Only GET: other methods answer 405."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from scim2_models import (
    Context,
    ListResponse,
    Meta,
    NotFoundException,
    ResourceType,
    Schema,
    ScimObject,
)

from api.auth import require
from api.scim_http import base_url, scim_json
from desk.principal import Principal
from domain.roles import Action
from domain.scim import CONFIG, PREFIX, SCHEMAS, USER_TYPE

router = APIRouter(prefix=PREFIX, tags=["scim"])
RESOURCE_TYPES = (USER_TYPE,)
T = TypeVar("T", bound=ScimObject)


def _described(obj: T, kind: str, location: str) -> T:
    return obj.model_copy(update={"meta": Meta(resource_type=kind, location=location)})


def _schema(request: Request, schema: Schema) -> Schema:
    return _described(schema, "Schema", f"{base_url(request)}/Schemas/{schema.id}")


def _resource_type(request: Request, resource_type: ResourceType) -> ResourceType:
    return _described(resource_type, "ResourceType",
                      f"{base_url(request)}/ResourceTypes/{resource_type.id}")


def _listed(resources: list[Any], model: type) -> Response:
    listing = ListResponse[model](  # type: ignore[valid-type]
        total_results=len(resources), start_index=1, items_per_page=len(resources),
        resources=resources)
    return scim_json(listing.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@router.get("/ServiceProviderConfig", summary="SCIM: what this service provider supports")
async def service_provider_config(request: Request,
                                  principal: Principal = require(Action.PEOPLE_SYNC),
                                  ) -> Response:
    config = _described(CONFIG, "ServiceProviderConfig",
                        f"{base_url(request)}/ServiceProviderConfig")
    return scim_json(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@router.get("/Schemas", summary="SCIM: the schemas (User, enterprise, Tempodesk onboarding)")
async def schemas(request: Request,
                  principal: Principal = require(Action.PEOPLE_SYNC)) -> Response:
    return _listed([_schema(request, s) for s in SCHEMAS], Schema)


@router.get("/Schemas/{schema_id}", summary="SCIM: one schema, by its URN")
async def schema(schema_id: str, request: Request,
                 principal: Principal = require(Action.PEOPLE_SYNC)) -> Response:
    found = next((s for s in SCHEMAS if str(s.id).lower() == schema_id.lower()), None)
    if found is None:
        raise NotFoundException(detail=f"no schema {schema_id[:100]}")
    return scim_json(_schema(request, found).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@router.get("/ResourceTypes", summary="SCIM: the resource types (User)")
async def resource_types(request: Request,
                         principal: Principal = require(Action.PEOPLE_SYNC)) -> Response:
    return _listed([_resource_type(request, t) for t in RESOURCE_TYPES], ResourceType)


@router.get("/ResourceTypes/{type_id}", summary="SCIM: one resource type")
async def resource_type(type_id: str, request: Request,
                        principal: Principal = require(Action.PEOPLE_SYNC)) -> Response:
    found = next((t for t in RESOURCE_TYPES if str(t.id).lower() == type_id.lower()), None)
    if found is None:
        raise NotFoundException(detail=f"no resource type {type_id[:100]}")
    return scim_json(_resource_type(request, found).model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
