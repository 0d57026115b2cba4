"""How many uploads one credential may have in flight (desk/upload_slots.py): the cap is
the config's, and a credential is a key within its client (or the staff), as key ids are
unique only there."""

from __future__ import annotations

import pytest

from desk.errors import DeskError
from desk.principal import Principal
from desk.state import Desk
from desk.upload_slots import UploadSlots
from domain.roles import Role
from domain.settings import Settings
from tests.conftest import isolated


def test_the_cap_is_the_configs(config):
    settings = Settings(_env_file=None)
    assert Desk.build(settings, config, None).uploads.per_credential == 8  # the default
    three = isolated(config).model_copy(update={"uploads_in_flight": 3})
    assert Desk.build(settings, three, None).uploads.per_credential == 3


def test_keys_of_the_same_id_are_not_one_credential():
    """Two clients (and the staff) may each name a key 'requester': one's uploads never
    take the other's slots."""
    slots = UploadSlots(1)
    belton = Principal.of_client("belton", Role.REQUESTER, "requester", "api_key")
    other = Principal.of_client("betterworld", Role.REQUESTER, "requester", "api_key")
    staff = Principal(None, Role.AGENT, "requester", "api_key")
    with slots.slot(belton):
        with pytest.raises(DeskError) as refused, slots.slot(belton):
            pass
        assert refused.value.status == 429
        with slots.slot(other), slots.slot(staff):
            assert slots.busy(other) == slots.busy(staff) == 1
    assert slots.busy(belton) == 0
