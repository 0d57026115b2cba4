"""The one place a Temporal client is made: the API, the worker and the CLI share it.

Always with the pydantic data converter (house rule 2), plus the payload codec when
encryption keys are set (payload_codec.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    WorkflowUpdateHandle,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from domain import search_attributes
from domain.settings import Settings
from payload_codec import EncryptionCodec

log = logging.getLogger(__name__)


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic converter; with codec keys set, payloads are encrypted, and failure
    messages and stack traces too (provider errors quote user names and addresses)."""
    codec = EncryptionCodec.from_settings(settings)
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter, payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


# An update admitted while the ticket's workflow task fails (typically "unhandled
# command": a signal arrived as the task completed, and the server has the worker run it
# again) is aborted, never applied, with FAILED_PRECONDITION: sending it again is safe.
UPDATE_ATTEMPTS = 5


def aborted_update(exc: RPCError) -> bool:
    return (exc.status == RPCStatusCode.FAILED_PRECONDITION
            and "workflow task failure" in exc.message)


class RetryAbortedUpdates(Interceptor):
    """Send again an update the server aborted with a failed workflow task (see above):
    concurrent comments and actions on one ticket would otherwise fail now and then."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _RetryAbortedUpdatesOutbound(next)


class _RetryAbortedUpdatesOutbound(OutboundInterceptor):
    async def start_workflow_update(self, input: StartWorkflowUpdateInput,
                                    ) -> WorkflowUpdateHandle[Any]:
        for attempt in range(UPDATE_ATTEMPTS):
            try:
                return await self.next.start_workflow_update(input)
            except RPCError as exc:
                if not aborted_update(exc) or attempt == UPDATE_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.05 * 2 ** attempt)
        raise AssertionError("unreachable")


INTERCEPTORS: list[Interceptor] = [RetryAbortedUpdates()]


def tls_config(settings: Settings) -> TLSConfig | bool:
    if not settings.uses_tls:
        return False
    read = lambda path: path.read_bytes() if path else None  # noqa: E731
    return TLSConfig(
        client_cert=read(settings.temporal_tls_cert),
        client_private_key=read(settings.temporal_tls_key),
        server_root_ca_cert=read(settings.temporal_tls_ca),
    )


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        data_converter=data_converter(settings),
        interceptors=INTERCEPTORS,
    )


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register any of our attributes the namespace lacks; returns the names added.

    Temporal Cloud refuses the operator API: there, register them once with `tcld` or the
    Cloud UI; this logs what is missing instead of failing start-up.
    """
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace))
    except RPCError as exc:
        log.warning("cannot list search attributes (%s); register them by hand", exc.message)
        return []
    known = set(existing.custom_attributes) | set(existing.system_attributes)
    missing = {
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
        for key in search_attributes.ALL_KEYS if key.name not in known
    }
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing))
        except RPCError as exc:
            log.warning("cannot register search attributes %s (%s)", sorted(missing), exc.message)
            return []
    return sorted(missing)
