"""gRPC methods of machine performance: ISO 22400-2 figures per period, and the capacity
a machine's telemetry proves."""

from __future__ import annotations

import grpc
from gantry.v1 import analytics_pb2 as pb

from services.analytics.domain.performance import Figures, Inputs
from services.analytics.usecases.capacity import Capacity
from services.analytics.usecases.performance import Granularity, Performance, Period, Scope
from services.kit.errors import FieldViolation, InvalidArgument
from services.kit.protos import EnumMap, required_time, tenant_of, timestamp_fields

GRANULARITIES = EnumMap(pb.Granularity, "GRANULARITY_", Granularity)
# Every field of `Inputs` and its derived gq and aubt, under the same names.
INPUT_FIELDS = tuple(field.name for field in pb.PerformanceInputs.DESCRIPTOR.fields)


def _scope(request: pb.GetPerformanceRequest) -> Scope:
    which = request.WhichOneof("scope")
    if which == "device_id":
        return Scope(device_id=request.device_id)
    if which == "site":
        return Scope(site=request.site)
    if which == "fleet" and request.fleet:
        return Scope()
    raise InvalidArgument([FieldViolation("scope", "give device_id, site, or fleet set to true")])


def _granularity(request: pb.GetPerformanceRequest) -> Granularity:
    granularity = GRANULARITIES.to_domain(request.granularity, "granularity")
    if granularity is None:
        raise InvalidArgument([FieldViolation("granularity", "required: hour, shift, day or week")])
    return granularity


def inputs_message(inputs: Inputs) -> pb.PerformanceInputs:
    return pb.PerformanceInputs(**{name: getattr(inputs, name) for name in INPUT_FIELDS})


def figures_message(figures: Figures) -> pb.PerformanceFigures:
    ratios = {
        "availability": figures.availability,
        "effectiveness": figures.effectiveness,
        "quality_ratio": figures.quality_ratio,
        "oee": figures.oee,
        "utilisation_efficiency": figures.utilisation_efficiency,
        "technical_efficiency": figures.technical_efficiency,
        "mtbf_seconds": figures.mtbf,
        "mttr_seconds": figures.mttr,
    }
    # Undefined figures stay unset: a ratio over nothing is no 0.
    return pb.PerformanceFigures(**{name: value for name, value in ratios.items() if value is not None})


def period_message(period: Period) -> pb.PerformancePeriod:
    return pb.PerformancePeriod(
        shift=period.shift,
        inputs=inputs_message(period.figures.inputs),
        figures=figures_message(period.figures),
        **timestamp_fields(start=period.start, end=period.end),
    )


class PerformanceApi:
    performance: Performance
    capacity: Capacity

    def GetPerformance(
        self, request: pb.GetPerformanceRequest, context: grpc.ServicerContext
    ) -> pb.PerformanceReport:
        zone, periods = self.performance.periods(
            tenant_of(request),
            _scope(request),
            required_time(request, "start"),
            required_time(request, "end"),
            _granularity(request),
            request.zone,
        )
        return pb.PerformanceReport(zone=zone, periods=[period_message(period) for period in periods])

    def GetMeasuredCapacity(
        self, request: pb.GetMeasuredCapacityRequest, context: grpc.ServicerContext
    ) -> pb.MeasuredCapacity:
        measured = self.capacity.measured(tenant_of(request), request.device_id)
        return pb.MeasuredCapacity(
            device_id=measured.device_id,
            zone=measured.zone,
            hours=[
                pb.CapacityHour(
                    weekday=hour.weekday,
                    hour=hour.hour,
                    producing_seconds=hour.producing,
                    idle_seconds=hour.idle,
                    down_seconds=hour.down,
                )
                for hour in measured.hours
            ],
            utilisation=measured.utilisation,
            idle_hours_per_week=measured.idle_hours_per_week,
            inputs=inputs_message(measured.figures.inputs),
            figures=figures_message(measured.figures),
            **timestamp_fields(start=measured.start, end=measured.end),
        )
