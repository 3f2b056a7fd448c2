"""gRPC method of the platform's figures."""

from __future__ import annotations

import grpc
from gantry.v1 import marketplace_pb2 as pb

from services.marketplace.usecases.figures import CurrencyFigures, PlatformFigures


def _currency_figures(figures: list[CurrencyFigures]) -> list[pb.CurrencyFigures]:
    return [
        pb.CurrencyFigures(currency=f.currency, completed_orders=f.completed_orders, amount=f.amount)
        for f in figures
    ]


class FiguresApi:
    figures: PlatformFigures

    def GetPlatformStats(
        self, request: pb.GetPlatformStatsRequest, context: grpc.ServicerContext
    ) -> pb.PlatformStats:
        stats = self.figures.report(request.from_day, request.to_day)
        return pb.PlatformStats(
            registered_companies=stats.registered_companies,
            companies_abroad=stats.companies_abroad,
            home_country=stats.home_country,
            totals=_currency_figures(stats.totals),
            days=[
                pb.DayFigures(day=d.day.isoformat(), currencies=_currency_figures(d.currencies))
                for d in stats.days
            ],
            from_day=stats.from_day.isoformat(),
            to_day=stats.to_day.isoformat(),
        )
