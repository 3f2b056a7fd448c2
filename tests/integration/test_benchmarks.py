"""Every benchmark still runs and reports its figures (tiny sizes; speed is not judged here)."""

from __future__ import annotations

import importlib

import pytest

from bench.__main__ import available

SMALL = {
    "BENCH_BUS_EVENTS": "200",
    "BENCH_REGISTRY_DEVICES": "300",
    "BENCH_SECONDS": "0.2",
    "BENCH_INGEST_READINGS": "2000",
    "BENCH_INGEST_DEVICES": "20",
    "BENCH_QUERY_READINGS": "20000",
    "BENCH_QUERY_REPEATS": "5",
    "BENCH_QUERY_YEAR_DAYS": "3",
    "BENCH_STORAGE_MACHINES": "3",
    "BENCH_STORAGE_HOURS": "0.1",
    "BENCH_GATEWAY_DEVICES": "5",
    "BENCH_GATEWAY_INGEST_REQUESTS": "4",
    "BENCH_MARKETPLACE_TRANSFERS": "100",
    "BENCH_MARKETPLACE_LIFECYCLES": "10",
    "BENCH_ANALYTICS_READINGS": "2000",
    "BENCH_ANALYTICS_DEVICES": "20",
    "BENCH_ANALYTICS_LATENCY_REQUESTS": "4",
    "BENCH_PERFORMANCE_DAYS": "3",
    "BENCH_PERFORMANCE_DEVICES": "5",
    "BENCH_PERFORMANCE_REPEATS": "2",
    "BENCH_ANOMALY_READINGS": "5000",
    "BENCH_MQTT_DEVICES": "3",
    "BENCH_MQTT_MESSAGES": "5",
    "BENCH_MQTT_IDLE": "50",
    "BENCH_CONSOLE_DEVICES": "2500",
    "BENCH_CONSOLE_REPEATS": "5",
}


@pytest.mark.parametrize("name", available())
def test_benchmark_reports_its_figures(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in SMALL.items():
        monkeypatch.setenv(variable, value)
    module = importlib.reload(importlib.import_module(f"bench.{name}"))
    figures = module.run()
    assert figures and all(isinstance(value, int | float) for value in figures.values())
    assert all(value > 0 for figure, value in figures.items() if figure.endswith("ratio"))
