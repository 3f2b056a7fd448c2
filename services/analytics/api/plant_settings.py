"""gRPC methods of machine models (keyed by profile) and site calendars (keyed by site)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import grpc
from gantry.v1 import analytics_pb2 as pb

from services.analytics.api.plant_messages import (
    calendar_definition,
    calendar_message,
    model_definition,
    model_message,
)
from services.analytics.domain.plant_settings import SettingKind
from services.analytics.usecases.plant_settings import PlantSettings
from services.kit.errors import InvalidArgument
from services.kit.protos import tenant_of
from services.kit.validation import require_uuid

MODEL = SettingKind.MACHINE_MODEL
CALENDAR = SettingKind.SITE_CALENDAR


def _model_field(field: str) -> str:
    """The use case names the key `profile_id`; a put's request holds it in its model."""
    return "model.profile_id" if field == "profile_id" else field


def _calendar_field(field: str) -> str:
    return "calendar.site" if field == "site" else field


def _profile_of(request: pb.GetMachineModelRequest | pb.DeleteMachineModelRequest) -> str:
    """The key in its canonical form, as a put stored it: an upper-case id finds it too."""
    return require_uuid(request.profile_id, "profile_id")


@contextmanager
def _request_fields(rename: Callable[[str], str]) -> Iterator[None]:
    """Violations naming the fields as the request holds them."""
    try:
        yield
    except InvalidArgument as error:
        error.violations = [replace(v, field=rename(v.field)) for v in error.violations]
        raise


class PlantSettingsApi:
    plant_settings: PlantSettings

    def PutMachineModel(
        self, request: pb.PutMachineModelRequest, context: grpc.ServicerContext
    ) -> pb.MachineModel:
        model, tenant_id = request.model, tenant_of(request)
        with _request_fields(_model_field):
            put = self.plant_settings.put_machine_model(
                tenant_id, model.profile_id, model_definition(model), request.expected_version
            )
        return model_message(put)

    def GetMachineModel(
        self, request: pb.GetMachineModelRequest, context: grpc.ServicerContext
    ) -> pb.MachineModel:
        return model_message(self.plant_settings.get(MODEL, tenant_of(request), _profile_of(request)))

    def ListMachineModels(
        self, request: pb.ListMachineModelsRequest, context: grpc.ServicerContext
    ) -> pb.ListMachineModelsResponse:
        found = self.plant_settings.list(MODEL, tenant_of(request))
        return pb.ListMachineModelsResponse(models=[model_message(setting) for setting in found])

    def DeleteMachineModel(
        self, request: pb.DeleteMachineModelRequest, context: grpc.ServicerContext
    ) -> pb.MachineModel:
        deleted = self.plant_settings.delete(
            MODEL, tenant_of(request), _profile_of(request), request.expected_version
        )
        return model_message(deleted)

    def PutSiteCalendar(
        self, request: pb.PutSiteCalendarRequest, context: grpc.ServicerContext
    ) -> pb.SiteCalendar:
        calendar, tenant_id = request.calendar, tenant_of(request)
        with _request_fields(_calendar_field):
            put = self.plant_settings.put_site_calendar(
                tenant_id, calendar.site, calendar_definition(calendar), request.expected_version
            )
        return calendar_message(put)

    def GetSiteCalendar(
        self, request: pb.GetSiteCalendarRequest, context: grpc.ServicerContext
    ) -> pb.SiteCalendar:
        return calendar_message(self.plant_settings.get(CALENDAR, tenant_of(request), request.site))

    def ListSiteCalendars(
        self, request: pb.ListSiteCalendarsRequest, context: grpc.ServicerContext
    ) -> pb.ListSiteCalendarsResponse:
        found = self.plant_settings.list(CALENDAR, tenant_of(request))
        return pb.ListSiteCalendarsResponse(calendars=[calendar_message(setting) for setting in found])

    def DeleteSiteCalendar(
        self, request: pb.DeleteSiteCalendarRequest, context: grpc.ServicerContext
    ) -> pb.SiteCalendar:
        deleted = self.plant_settings.delete(
            CALENDAR, tenant_of(request), request.site, request.expected_version
        )
        return calendar_message(deleted)
