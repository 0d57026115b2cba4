"""Ordering the parts of an approved quote the same day, through the MSP's procurement
hook: a signed webhook (Standard Webhooks) whose webhook-id is the quote's business key
(``order:BEL-000301``, domain.ids.order_key), never a per-run id, so a retried order (in
this run or any later one) is recognisably the same order. It answers the order id, the
ETA and the install date; the quote posts them to its request and the requester."""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from datetime import time as time_of_day
from zoneinfo import ZoneInfo

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import outbound, webhooks
from activities.graph import raise_for
from domain.ids import order_key
from domain.quotes import Order, OrderRequest
from domain.settings import Settings

INSTALL_DONE_BY = time_of_day(17)  # local: the request is due at the end of the install day


class ProcurementActivities:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http

    @activity.defn
    async def place_order(self, order: OrderRequest) -> Order:
        url, secret = self.settings.procurement_url, self.settings.procurement_secret
        if not url or secret is None:
            raise ApplicationError("no procurement hook: set TEMPODESK_PROCUREMENT_URL and "
                                   "_SECRET, or order the parts by hand",
                                   type="ProviderNotConfigured", non_retryable=True)
        body = json.dumps({"type": "quote.approved", "data": order.model_dump(mode="json")},
                          separators=(",", ":")).encode()
        headers = webhooks.headers(secret.get_secret_value(), order_key(order.quote_id),
                                   int(time.time()), body)
        await outbound.guard(url, self.settings, "procurement")
        response = await self.http.post(url, content=body, headers=headers, timeout=30)
        raise_for(response, "procurement")
        try:
            answer = response.json()
            install_on = date.fromisoformat(answer["install_on"])
            return Order(order_id=str(answer["order_id"]), eta=date.fromisoformat(answer["eta"]),
                         install_on=install_on,
                         install_at=datetime.combine(install_on, INSTALL_DONE_BY,
                                                     ZoneInfo(order.zone)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ApplicationError(f"procurement answered without order_id, eta and "
                                   f"install_on (YYYY-MM-DD): {response.text[:200]}",
                                   type="ProviderRefused", non_retryable=True) from exc
