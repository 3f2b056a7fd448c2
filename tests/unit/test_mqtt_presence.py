"""What the adapter tells the registry of its connections: first and last ones, batched,
renewed, and given back when the registry could not be told."""

from __future__ import annotations

from services.mqtt.domain.presence import Presence

A, B = ("t", "a"), ("t", "b")


def test_a_devices_first_connection_and_last_disconnection_are_news() -> None:
    presence = Presence()
    presence.connected(A)
    presence.connected(A)
    assert presence.take(10) == ([A], [])
    presence.disconnected(A)
    assert not presence.pending
    presence.disconnected(A)
    assert presence.take(10) == ([], [A])


def test_the_latest_change_of_a_device_wins() -> None:
    presence = Presence()
    presence.connected(A)
    presence.disconnected(A)
    assert presence.take(10) == ([], [A])


def test_renewal_reports_every_held_device_again() -> None:
    presence = Presence()
    presence.connected(A)
    presence.connected(B)
    presence.take(10)
    presence.disconnected(B)
    presence.renew()
    assert sorted(presence.take(10)[0]) == [A]


def test_reports_are_cut_at_the_limit_and_the_rest_stays_pending() -> None:
    presence = Presence()
    for device in range(5):
        presence.connected(("t", str(device)))
    first = presence.take(3)
    assert len(first[0]) == 3 and presence.pending
    assert len(presence.take(3)[0]) == 2


def test_a_failed_report_is_given_back_unless_changed_since() -> None:
    presence = Presence()
    presence.connected(A)
    presence.connected(B)
    connected, disconnected = presence.take(10)
    presence.disconnected(B)
    presence.give_back(connected, disconnected)
    assert presence.take(10) == ([A], [B])
