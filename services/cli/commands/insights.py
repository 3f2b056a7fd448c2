"""`gantry alarms` and `gantry kpis`: a tenant's plant at a glance, from analytics."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from gantry.v1 import analytics_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from services.cli.backends import as_dict, call, stub
from services.cli.output import Outcome, Table, record

GRANULARITIES = ("hour", "shift", "day", "week")
FIGURES = ("availability", "effectiveness", "quality_ratio", "oee", "mtbf_seconds", "mttr_seconds")


def register(commands: argparse._SubParsersAction) -> None:
    alarms = commands.add_parser(
        "alarms", help="a tenant's active alarms by severity, devices by state and connectivity, readings"
    )
    alarms.add_argument("tenant_id")
    alarms.set_defaults(run=run_alarms)
    kpis = commands.add_parser(
        "kpis", help="a tenant's fleet performance (ISO 22400: OEE and its factors, MTBF, MTTR) per period"
    )
    kpis.add_argument("tenant_id")
    kpis.add_argument("--days", type=int, default=1, help="how many days back from now (default 1)")
    kpis.add_argument("--granularity", choices=GRANULARITIES, default="day")
    kpis.add_argument("--site", default="", help="one site's machines instead of the fleet")
    kpis.add_argument("--zone", default="", help="IANA zone of the periods (default UTC)")
    kpis.set_defaults(run=run_kpis)


def run_alarms(args: argparse.Namespace) -> Outcome:
    with stub("analytics") as analytics:
        overview = as_dict(
            call(analytics.GetOverview, analytics_pb2.GetOverviewRequest(tenant_id=args.tenant_id))
        )
    severities = overview["active_alarms_by_severity"]
    rows = [
        {"severity": name, "active": severities.get(name, 0)}
        for name in ("critical", "major", "minor", "warning")
    ]
    rest = {key: value for key, value in overview.items() if key != "active_alarms_by_severity"}
    return Outcome(overview, [Table(("severity", "active"), rows, "ACTIVE ALARMS"), record(rest)])


def run_kpis(args: argparse.Namespace) -> Outcome:
    end = datetime.now(UTC)
    request = analytics_pb2.GetPerformanceRequest(
        tenant_id=args.tenant_id,
        start=_timestamp(end - timedelta(days=args.days)),
        end=_timestamp(end),
        granularity=analytics_pb2.Granularity.Value(f"GRANULARITY_{args.granularity.upper()}"),
        zone=args.zone,
    )
    if args.site:
        request.site = args.site
    else:
        request.fleet = True
    with stub("analytics") as analytics:
        report = as_dict(call(analytics.GetPerformance, request))
    rows = [{"start": p["start"], "shift": p["shift"], **p.get("figures", {})} for p in report["periods"]]
    return Outcome(report, [Table(("start", "shift", *FIGURES), rows, f"PERFORMANCE ({report['zone']})")])


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp
