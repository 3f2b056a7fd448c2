"""Devices and profiles through the registry's gRPC API, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import orjson
import pytest
from gantry.v1 import common_pb2, registry_pb2_grpc
from gantry.v1 import registry_pb2 as pb
from sqlalchemy import func, select

from services.kit.events import new_event
from services.kit.store import Store
from services.registry import storage
from services.registry.queries.devices import find_devices_of
from services.registry.usecases.devices import Devices
from tests.integration.conftest import CapturedEvents
from tests.support.access import code_of, mask, violations
from tests.support.registry import create_profile, devices_server, insert_tenant

Stub = registry_pb2_grpc.RegistryServiceStub


@pytest.fixture
def registry(store: Store) -> Iterator[Stub]:
    with devices_server(store) as stub:
        yield stub


@pytest.fixture
def tenant(store: Store) -> str:
    return insert_tenant(store)


@pytest.fixture
def profile(registry: Stub, tenant: str) -> pb.DeviceProfile:
    return create_profile(registry, tenant)


def spec(profile: pb.DeviceProfile, serial: str | None = None, **fields: object) -> pb.DeviceSpec:
    return pb.DeviceSpec(
        serial_number=serial or f"CNC-{uuid.uuid4().hex[:8]}",
        display_name="Mill",
        profile_id=profile.id,
        **fields,
    )


def register(
    registry: Stub, tenant: str, profile: pb.DeviceProfile, **fields: object
) -> pb.RegisterDeviceResponse:
    return registry.RegisterDevice(pb.RegisterDeviceRequest(tenant_id=tenant, device=spec(profile, **fields)))


def count(store: Store, table: object) -> int:
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_registration_returns_a_token_once_and_publishes_the_event(
    registry: Stub, tenant: str, profile: pb.DeviceProfile, captured: CapturedEvents, store: Store
) -> None:
    captured.drain()
    registered = registry.RegisterDevice(
        pb.RegisterDeviceRequest(
            tenant_id=tenant, device=spec(profile, "CNC-1", site="Suzhou", labels={"line": "a"})
        ),
        metadata=(("x-request-id", "trace-reg-1"),),
    )
    device = registered.device
    assert registered.access_token.startswith("gdt_") and registered.credential_id
    assert (device.state, device.version, device.profile_version) == (pb.DEVICE_STATE_PROVISIONED, 1, 1)
    assert device.connectivity == pb.CONNECTIVITY_NEVER_SEEN
    assert registry.GetDevice(pb.GetDeviceRequest(tenant_id=tenant, device_id=device.id)) == device
    [(properties, body)] = captured.drain()
    event = orjson.loads(body)
    assert (event["type"], event["tenant_id"], event["data"]["device_id"]) == (
        "device.registered",
        tenant,
        device.id,
    )
    assert properties.headers["x-request-id"] == "trace-reg-1"
    with store.engine.connect() as connection:
        stored_hash = connection.execute(select(storage.device_credentials.c.secret_hash)).scalar_one()
    assert registered.access_token.split("_", 2)[2] not in stored_hash


def test_bulk_registration_is_all_or_nothing(
    registry: Stub, tenant: str, profile: pb.DeviceProfile, store: Store
) -> None:
    good = [spec(profile, f"BULK-{i:04d}") for i in range(1000)]
    bad = [*good[:500], spec(profile, "BULK bad"), *good[500:]]
    assert "devices[500].serial_number" in violations(
        lambda: registry.RegisterDevices(pb.RegisterDevicesRequest(tenant_id=tenant, devices=bad))
    )
    repeated = [*good, spec(profile, "BULK-0007")]
    assert violations(
        lambda: registry.RegisterDevices(pb.RegisterDevicesRequest(tenant_id=tenant, devices=repeated))
    ) == {"devices[1000].serial_number": "repeats devices[7]"}
    assert count(store, storage.devices) == 0

    registered = registry.RegisterDevices(pb.RegisterDevicesRequest(tenant_id=tenant, devices=good))
    assert [r.device.serial_number for r in registered.devices] == [s.serial_number for s in good]
    assert len({r.access_token for r in registered.devices}) == 1000

    again = [spec(profile, "BULK-NEW"), good[3]]
    assert code_of(
        lambda: registry.RegisterDevices(pb.RegisterDevicesRequest(tenant_id=tenant, devices=again))
    ) == (grpc.StatusCode.ALREADY_EXISTS)
    assert count(store, storage.devices) == 1000 and count(store, storage.device_credentials) == 1000


def test_lists_filter_sort_and_page_through_every_device_once(
    registry: Stub, tenant: str, profile: pb.DeviceProfile
) -> None:
    specs = [
        spec(profile, f"M-{i:03d}", site="Suzhou" if i % 2 else "Ningbo", labels={"line": f"l{i % 3}"})
        for i in range(60)
    ]
    registry.RegisterDevices(pb.RegisterDevicesRequest(tenant_id=tenant, devices=specs))

    def walk(**options: object) -> tuple[list[str], int]:
        seen, cursor, total = [], "", 0
        while True:
            page = registry.ListDevices(
                pb.ListDevicesRequest(
                    tenant_id=tenant,
                    page=common_pb2.PageRequest(page_size=7, cursor=cursor),
                    include_total=True,
                    **options,
                )
            )
            seen += [d.serial_number for d in page.devices]
            total, cursor = page.page.total, page.page.next_cursor
            if not cursor:
                return seen, total

    every, total = walk()
    assert every == sorted(s.serial_number for s in specs) and total == 60
    assert walk(order_by="-serial_number")[0] == every[::-1]
    assert sorted(walk(order_by="created_at")[0]) == every
    suzhou, total = walk(site="Suzhou", labels={"line": "l0"})
    assert suzhou == [f"M-{i:03d}" for i in range(60) if i % 2 and i % 3 == 0] and total == len(suzhou)
    assert walk(text="m-00")[0] == [f"M-00{i}" for i in range(10)]
    assert walk(text="%")[0] == []
    assert walk(state=pb.DEVICE_STATE_ACTIVE)[0] == []

    first = registry.ListDevices(
        pb.ListDevicesRequest(tenant_id=tenant, page=common_pb2.PageRequest(page_size=5))
    )
    other_filter = pb.ListDevicesRequest(
        tenant_id=tenant, site="Suzhou", page=common_pb2.PageRequest(cursor=first.page.next_cursor)
    )
    assert "page.cursor" in violations(lambda: registry.ListDevices(other_filter))
    for bad_size in (-1, 100_000):
        request = pb.ListDevicesRequest(tenant_id=tenant, page=common_pb2.PageRequest(page_size=bad_size))
        assert "page.page_size" in violations(lambda r=request: registry.ListDevices(r))


def test_a_page_gives_the_cursor_of_the_page_before_it(
    registry: Stub, tenant: str, profile: pb.DeviceProfile
) -> None:
    specs = [spec(profile, f"B-{i:03d}", labels={"line": "back"}) for i in range(12)]
    registry.RegisterDevices(pb.RegisterDevicesRequest(tenant_id=tenant, devices=specs))

    def page(cursor: str = "", order_by: str = "", **filters: object) -> pb.ListDevicesResponse:
        return registry.ListDevices(
            pb.ListDevicesRequest(
                tenant_id=tenant,
                page=common_pb2.PageRequest(page_size=5, cursor=cursor),
                order_by=order_by,
                labels={"line": "back"},
                **filters,
            )
        )

    first = page()
    second = page(first.page.next_cursor)
    third = page(second.page.next_cursor)
    assert [d.serial_number for d in third.devices] == ["B-010", "B-011"]
    # Backwards from the third page: the second, then the first, each read in reverse.
    back = page(third.previous_cursor, "-serial_number")
    assert [d.serial_number for d in back.devices][::-1] == [d.serial_number for d in second.devices]
    back_again = page(back.page.next_cursor, "-serial_number")
    assert [d.serial_number for d in back_again.devices][::-1] == [d.serial_number for d in first.devices]
    assert back_again.page.next_cursor == ""
    # And forwards again from a page read backwards.
    forwards = page(back.previous_cursor)
    assert [d.serial_number for d in forwards.devices] == [d.serial_number for d in third.devices]
    # A reverse cursor continues only the reverse list of the same filters.
    assert "page.cursor" in violations(lambda: page(third.previous_cursor))
    assert "page.cursor" in violations(lambda: page(third.previous_cursor, "-serial_number", site="Suzhou"))
    assert page(site="nowhere").previous_cursor == ""

    def total(limit: int) -> int:
        return page(include_total=True, total_limit=limit).page.total

    # Counted no further than asked: one more than the limit says "more".
    assert (total(0), total(12), total(11), total(5)) == (12, 12, 12, 6)


def test_updates_need_the_current_version(
    registry: Stub, tenant: str, profile: pb.DeviceProfile, store: Store
) -> None:
    device = register(registry, tenant, profile).device
    renamed = registry.UpdateDevice(
        pb.UpdateDeviceRequest(
            tenant_id=tenant,
            device_id=device.id,
            expected_version=1,
            update_mask=mask("display_name", "labels"),
            display_name="精密 Mill 2",
            labels={"cell": "b"},
        )
    )
    assert (renamed.display_name, dict(renamed.labels), renamed.version) == ("精密 Mill 2", {"cell": "b"}, 2)
    stale = pb.UpdateDeviceRequest(
        tenant_id=tenant, device_id=device.id, expected_version=1, update_mask=mask("site"), site="Elsewhere"
    )
    assert code_of(lambda: registry.UpdateDevice(stale)) == grpc.StatusCode.ABORTED
    assert registry.GetDevice(pb.GetDeviceRequest(tenant_id=tenant, device_id=device.id)) == renamed
    assert "update_mask" in violations(
        lambda: registry.UpdateDevice(
            pb.UpdateDeviceRequest(
                tenant_id=tenant, device_id=device.id, expected_version=2, update_mask=mask("state")
            )
        )
    )


def test_concurrent_updates_with_one_version_let_exactly_one_win(
    registry: Stub, tenant: str, profile: pb.DeviceProfile
) -> None:
    device = register(registry, tenant, profile).device
    outcomes: list[grpc.StatusCode] = []

    def rename(index: int) -> None:
        request = pb.UpdateDeviceRequest(
            tenant_id=tenant,
            device_id=device.id,
            expected_version=1,
            update_mask=mask("display_name"),
            display_name=f"writer {index}",
        )
        try:
            registry.UpdateDevice(request)
            outcomes.append(grpc.StatusCode.OK)
        except grpc.RpcError as error:
            outcomes.append(error.code())

    threads = [threading.Thread(target=rename, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(grpc.StatusCode.OK) == 1
    assert set(outcomes) <= {grpc.StatusCode.OK, grpc.StatusCode.ABORTED}
    assert registry.GetDevice(pb.GetDeviceRequest(tenant_id=tenant, device_id=device.id)).version == 2


def test_lifecycle_allows_only_its_transitions(
    registry: Stub, tenant: str, profile: pb.DeviceProfile
) -> None:
    device = register(registry, tenant, profile).device

    def move(state: int, version: int) -> pb.Device:
        return registry.ChangeDeviceState(
            pb.ChangeDeviceStateRequest(
                tenant_id=tenant, device_id=device.id, expected_version=version, state=state
            )
        )

    assert code_of(lambda: move(pb.DEVICE_STATE_SUSPENDED, 1)) == grpc.StatusCode.FAILED_PRECONDITION
    assert move(pb.DEVICE_STATE_ACTIVE, 1).state == pb.DEVICE_STATE_ACTIVE
    assert move(pb.DEVICE_STATE_SUSPENDED, 2).state == pb.DEVICE_STATE_SUSPENDED
    assert move(pb.DEVICE_STATE_ACTIVE, 3).state == pb.DEVICE_STATE_ACTIVE
    assert move(pb.DEVICE_STATE_DECOMMISSIONED, 4).state == pb.DEVICE_STATE_DECOMMISSIONED
    for state in (pb.DEVICE_STATE_ACTIVE, pb.DEVICE_STATE_PROVISIONED, pb.DEVICE_STATE_SUSPENDED):
        assert code_of(lambda s=state: move(s, 5)) == grpc.StatusCode.FAILED_PRECONDITION
    rename = pb.UpdateDeviceRequest(
        tenant_id=tenant, device_id=device.id, expected_version=5, update_mask=mask("site"), site="x"
    )
    assert code_of(lambda: registry.UpdateDevice(rename)) == grpc.StatusCode.FAILED_PRECONDITION
    assert "state" in violations(lambda: move(pb.DEVICE_STATE_UNSPECIFIED, 5))


def test_another_tenants_devices_and_profiles_are_not_found(
    registry: Stub, tenant: str, profile: pb.DeviceProfile, store: Store
) -> None:
    device = register(registry, tenant, profile).device
    stranger = insert_tenant(store)
    calls = [
        lambda: registry.GetDevice(pb.GetDeviceRequest(tenant_id=stranger, device_id=device.id)),
        lambda: registry.UpdateDevice(
            pb.UpdateDeviceRequest(
                tenant_id=stranger,
                device_id=device.id,
                expected_version=1,
                update_mask=mask("site"),
                site="x",
            )
        ),
        lambda: registry.ChangeDeviceState(
            pb.ChangeDeviceStateRequest(
                tenant_id=stranger, device_id=device.id, expected_version=1, state=pb.DEVICE_STATE_ACTIVE
            )
        ),
        lambda: registry.GetProfile(pb.GetProfileRequest(tenant_id=stranger, profile_id=profile.id)),
        lambda: registry.UpdateProfile(
            pb.UpdateProfileRequest(
                tenant_id=stranger,
                profile_id=profile.id,
                expected_version=1,
                update_mask=mask("name"),
                name="x",
            )
        ),
        lambda: registry.RegisterDevice(
            pb.RegisterDeviceRequest(tenant_id=str(uuid.uuid4()), device=spec(profile))
        ),
    ]
    for call in calls:
        assert code_of(call) == grpc.StatusCode.NOT_FOUND
    assert "device.profile_id" in violations(lambda: register(registry, stranger, profile))
    assert registry.ListDevices(pb.ListDevicesRequest(tenant_id=stranger)).devices == []
    assert registry.ListProfiles(pb.ListProfilesRequest(tenant_id=stranger)).profiles == []


HOSTILE = [
    ({"serial_number": "S" * 100_000}, "device.serial_number"),
    ({"serial_number": "S-1\x00"}, "device.serial_number"),
    ({"display_name": "Mill\x00"}, "device.display_name"),
    ({"display_name": "x" * 100_000}, "device.display_name"),
    ({"site": "\x1b[2J"}, "device.site"),
    ({"profile_version": -1}, "device.profile_version"),
    ({"profile_version": 7}, "device.profile_version"),
    ({"profile_id": "not-a-uuid"}, "device.profile_id"),
    ({"labels": {f"k{i}": "v" for i in range(100_000)}}, "device.labels"),
    ({"labels": {"Bad Key": "v"}}, "device.labels"),
    ({"labels": {"k": "v" * 64}}, "device.labels"),
    ({"firmware_version": "1.0" * 100}, "device.firmware_version"),
]


@pytest.mark.parametrize("fields, field", HOSTILE)
def test_hostile_devices_are_refused_and_nothing_is_written(
    registry: Stub, tenant: str, profile: pb.DeviceProfile, store: Store, fields: dict, field: str
) -> None:
    device = spec(profile)
    for name, value in fields.items():
        if name == "labels":
            device.labels.update(value)
        else:
            setattr(device, name, value)
    found = violations(
        lambda: registry.RegisterDevice(pb.RegisterDeviceRequest(tenant_id=tenant, device=device))
    )
    assert any(key.startswith(field) for key in found), found
    assert count(store, storage.devices) == 0 and count(store, storage.device_labels) == 0


def test_oversized_attributes_are_refused(registry: Stub, tenant: str, profile: pb.DeviceProfile) -> None:
    device = spec(profile)
    device.attributes.update({"blob": "x" * 20_000})
    assert "device.attributes" in violations(
        lambda: registry.RegisterDevice(pb.RegisterDeviceRequest(tenant_id=tenant, device=device))
    )
    device = spec(profile)
    device.attributes.update({"controller": {"vendor": "Fanuc", "axes": 5}})
    stored = registry.RegisterDevice(pb.RegisterDeviceRequest(tenant_id=tenant, device=device)).device
    assert stored.attributes["controller"]["vendor"] == "Fanuc"


def test_profile_changes_make_versions_and_devices_stay_until_moved(
    registry: Stub, tenant: str, profile: pb.DeviceProfile
) -> None:
    device = register(registry, tenant, profile).device
    channels = [*profile.channels, pb.Channel(key="vibration", value_type=pb.VALUE_TYPE_FLOAT, unit="mm/s")]
    renamed = registry.UpdateProfile(
        pb.UpdateProfileRequest(
            tenant_id=tenant,
            profile_id=profile.id,
            expected_version=1,
            update_mask=mask("name"),
            name="VMC-850 II",
        )
    )
    assert (renamed.version, renamed.name) == (1, "VMC-850 II")
    updated = registry.UpdateProfile(
        pb.UpdateProfileRequest(
            tenant_id=tenant,
            profile_id=profile.id,
            expected_version=1,
            update_mask=mask("channels"),
            channels=channels,
        )
    )
    assert (updated.version, updated.latest_version, len(updated.channels)) == (2, 2, 3)
    stale = pb.UpdateProfileRequest(
        tenant_id=tenant,
        profile_id=profile.id,
        expected_version=1,
        update_mask=mask("channels"),
        channels=channels[:1],
    )
    assert code_of(lambda: registry.UpdateProfile(stale)) == grpc.StatusCode.ABORTED
    first = registry.GetProfile(pb.GetProfileRequest(tenant_id=tenant, profile_id=profile.id, version=1))
    assert (first.version, first.latest_version, len(first.channels)) == (1, 2, 2)

    assert registry.GetDevice(pb.GetDeviceRequest(tenant_id=tenant, device_id=device.id)).profile_version == 1
    assert register(registry, tenant, profile).device.profile_version == 2
    moved = registry.UpdateDevice(
        pb.UpdateDeviceRequest(
            tenant_id=tenant,
            device_id=device.id,
            expected_version=1,
            update_mask=mask("profile_version"),
            profile_version=2,
        )
    )
    assert moved.profile_version == 2
    assert "profile_version" in violations(
        lambda: registry.UpdateDevice(
            pb.UpdateDeviceRequest(
                tenant_id=tenant,
                device_id=device.id,
                expected_version=2,
                update_mask=mask("profile_version"),
                profile_version=9,
            )
        )
    )


BAD_CHANNELS = [
    (pb.Channel(key="mode", value_type=pb.VALUE_TYPE_ENUM), "channels.0.allowed_values"),
    (pb.Channel(key="on", value_type=pb.VALUE_TYPE_BOOL, min=0), "channels.0.min"),
    (pb.Channel(key="t", value_type=pb.VALUE_TYPE_FLOAT, min=5, max=1), "channels.0.min"),
    (pb.Channel(key="t", value_type=pb.VALUE_TYPE_FLOAT, min=float("nan")), "channels.0.min"),
    (pb.Channel(key="t", value_type=pb.VALUE_TYPE_UNSPECIFIED), "channels.0.value_type"),
    (pb.Channel(key="9lives", value_type=pb.VALUE_TYPE_INT), "channels.0.key"),
    (
        pb.Channel(key="t", value_type=pb.VALUE_TYPE_INT, sample_interval_ms=-5),
        "channels.0.sample_interval_ms",
    ),
]


@pytest.mark.parametrize("channel, field", BAD_CHANNELS)
def test_channel_rules_are_enforced(
    registry: Stub, tenant: str, store: Store, channel: pb.Channel, field: str
) -> None:
    request = pb.CreateProfileRequest(tenant_id=tenant, name="P", channels=[channel])
    assert field in violations(lambda: registry.CreateProfile(request))
    assert count(store, storage.profiles) == 0


def test_profiles_refuse_duplicate_and_too_many_channels(registry: Stub, tenant: str) -> None:
    twice = [pb.Channel(key="t", value_type=pb.VALUE_TYPE_FLOAT)] * 2
    assert "channels" in violations(
        lambda: registry.CreateProfile(pb.CreateProfileRequest(tenant_id=tenant, name="P", channels=twice))
    )
    many = [pb.Channel(key=f"c{i}", value_type=pb.VALUE_TYPE_FLOAT) for i in range(300)]
    assert "channels" in violations(
        lambda: registry.CreateProfile(pb.CreateProfileRequest(tenant_id=tenant, name="P", channels=many))
    )


def test_stored_batches_mark_devices_seen_and_activate_them_once(
    registry: Stub, tenant: str, profile: pb.DeviceProfile, store: Store
) -> None:
    device = register(registry, tenant, profile).device
    devices = Devices(store.unit_of_work)
    seen_at = datetime.now(UTC).replace(microsecond=0)

    def batch(last: datetime) -> object:
        return new_event(
            "telemetry.batch_stored",
            tenant,
            {
                "devices": [
                    {
                        "device_id": device.id,
                        "count": 10,
                        "first_ts": (last - timedelta(seconds=9)).isoformat(),
                        "last_ts": last.isoformat(),
                    }
                ]
            },
        )

    event = batch(seen_at)
    parsed = type(event)(
        **{
            **vars(event),
            "data": {
                "devices": [
                    {
                        **d,
                        "first_ts": datetime.fromisoformat(d["first_ts"]),
                        "last_ts": datetime.fromisoformat(d["last_ts"]),
                    }
                    for d in event.data["devices"]
                ]
            },
        }
    )
    assert devices.record_batch(parsed) is True
    assert devices.record_batch(parsed) is False
    current = registry.GetDevice(pb.GetDeviceRequest(tenant_id=tenant, device_id=device.id))
    assert current.state == pb.DEVICE_STATE_ACTIVE and current.version == 2
    assert current.last_seen_at.ToDatetime(tzinfo=UTC) == seen_at
    assert current.connectivity == pb.CONNECTIVITY_ONLINE


def test_reads_gathered_in_one_query_keep_each_tenant_to_its_own(
    registry: Stub, tenant: str, profile: pb.DeviceProfile, store: Store
) -> None:
    mine = register(registry, tenant, profile).device
    stranger = insert_tenant(store)
    with store.engine.connect() as connection:
        found = find_devices_of(
            connection, [(stranger, mine.id), (tenant, mine.id), (tenant, str(uuid.uuid4()))]
        )
    assert list(found) == [(tenant, mine.id)] and found[(tenant, mine.id)].serial_number == mine.serial_number
