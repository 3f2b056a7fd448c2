"""The alarm rules page's forms over HTTP on the whole platform, with real sessions: another
tenant's rule is a 404, a viewer changes nothing, every form needs the session's token, a
rule changed meanwhile is refused, and stored names render escaped in the forms too."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from tests.support.plant import PlantTenant, SignedIn, console_client, console_url, plant_tenant
from tests.support.platform import Platform

XSS = '"><script>alert("x")</script>'


@pytest.fixture(scope="module")
def plant(platform: Platform, registry_channel: grpc.Channel) -> PlantTenant:
    return plant_tenant(registry_channel, platform.gateway_url, "Ruled Works")


@pytest.fixture(scope="module")
def other(platform: Platform, registry_channel: grpc.Channel) -> PlantTenant:
    return plant_tenant(registry_channel, platform.gateway_url, "Meddling Works")


@pytest.fixture
def rule(plant: PlantTenant) -> dict[str, Any]:
    return plant.overheating_rule(name=f"hot {XSS}")


def _rules(plant: PlantTenant) -> str:
    return f"/device-profiles/{plant.partner.profile_id()}/alarm-rules"


def _edit(member: SignedIn, version: int, value: str = "80", **fields: str) -> dict[str, str]:
    return {
        "csrf_token": member.csrf_token,
        "version": str(version),
        "name": "hot spindle",
        "create-0-severity": "major",
        "create-0-channel": "spindle_temp",
        "create-0-operator": "gt",
        "create-0-value": value,
        "create-0-kind": "simple",
        "clear_after": "0",
        **fields,
    }


def test_another_tenants_rules_are_not_found(
    platform: Platform, plant: PlantTenant, other: PlantTenant, rule: dict[str, Any]
) -> None:
    with console_client(console_url(platform), other.admin) as intruder:
        assert intruder.get(_rules(plant)).status_code == 404
        assert intruder.post(f"{_rules(plant)}/{rule['id']}", data=_edit(other.admin, 1)).status_code == 404
        # Their own profile's path, with another tenant's rule.
        own = f"/device-profiles/{other.partner.profile_id()}/alarm-rules/{rule['id']}"
        assert intruder.post(own, data=_edit(other.admin, 1)).status_code == 404
        deleted = intruder.post(f"{own}/delete", data={"csrf_token": other.admin.csrf_token, "version": "1"})
        assert deleted.status_code == 404
        assert intruder.post(_rules(plant), data=_edit(other.admin, 0)).status_code == 404
    assert plant.partner.http.get(f"/v1/alarm-rules/{rule['id']}").json()["version"] == 1


def test_a_viewer_reads_the_rules_and_changes_nothing(
    platform: Platform, plant: PlantTenant, rule: dict[str, Any]
) -> None:
    with console_client(console_url(platform), plant.viewer) as viewer:
        page = viewer.get(_rules(plant))
        assert page.status_code == 200 and "Save the rule" not in page.text
        assert viewer.post(f"{_rules(plant)}/{rule['id']}", data=_edit(plant.viewer, 1)).status_code == 403
        assert viewer.post(_rules(plant), data=_edit(plant.viewer, 0)).status_code == 403
        delete = {"csrf_token": plant.viewer.csrf_token, "version": "1"}
        assert viewer.post(f"{_rules(plant)}/{rule['id']}/delete", data=delete).status_code == 403
    assert plant.partner.http.get(f"/v1/alarm-rules/{rule['id']}").json()["version"] == 1


def test_rule_forms_without_the_sessions_token_are_refused(
    platform: Platform, plant: PlantTenant, rule: dict[str, Any]
) -> None:
    with console_client(console_url(platform), plant.admin) as admin:
        for path in (_rules(plant), f"{_rules(plant)}/{rule['id']}", f"{_rules(plant)}/{rule['id']}/delete"):
            forged = {**_edit(plant.admin, 1), "csrf_token": "forged"}
            assert admin.post(path, data=forged).status_code == 403, path
    assert plant.partner.http.get(f"/v1/alarm-rules/{rule['id']}").json()["version"] == 1


def test_a_rule_changed_meanwhile_is_refused_and_shown_as_it_is(
    platform: Platform, plant: PlantTenant, rule: dict[str, Any]
) -> None:
    with console_client(console_url(platform), plant.admin) as admin:
        first = admin.post(f"{_rules(plant)}/{rule['id']}", data=_edit(plant.admin, 1, "80"))
        assert first.status_code == 303
        stale = admin.post(f"{_rules(plant)}/{rule['id']}", data=_edit(plant.admin, 1, "70"))
        assert stale.status_code == 409
        assert "Someone changed it meanwhile" in stale.text and "(version 2)" in stale.text
        assert (
            f'id="edit-{rule["id"]}-create-0-value" name="create-0-value" type="text" value="80"'
            in stale.text
        )
        stale_delete = admin.post(
            f"{_rules(plant)}/{rule['id']}/delete",
            data={"csrf_token": plant.admin.csrf_token, "version": "1"},
        )
        assert stale_delete.status_code == 409
    kept = plant.partner.http.get(f"/v1/alarm-rules/{rule['id']}").json()
    assert kept["version"] == 2
    assert kept["create"][0]["trigger"]["condition"]["predicates"][0]["value"]["number"] == 80


def test_stored_names_render_escaped_in_the_forms(
    platform: Platform, plant: PlantTenant, rule: dict[str, Any]
) -> None:
    with console_client(console_url(platform), plant.admin) as admin:
        html = admin.get(_rules(plant)).text
        refused = admin.post(_rules(plant), data=_edit(plant.admin, 0, "hot", name=XSS))
    assert refused.status_code == 400
    for page in (html, refused.text):
        assert "<script>alert" not in page
        assert "&#34;&gt;&lt;script&gt;alert(" in page or "&quot;&gt;&lt;script&gt;alert(" in page
