"""`tempodesk reports qbr`: a client's quarterly business review, made on demand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from commands.common import Output, config_or_exit, operator_settings, table, with_temporal
from console import err, out
from desk.principal import Principal
from domain.roles import Role

# Who runs the CLI: an operator of the MSP, with the Temporal connection's own trust.
OPERATOR = Principal(None, Role.ADMIN, "cli", "cli")
app = typer.Typer(help="Client reports (operators).", no_args_is_help=True)


@app.command("qbr")
def reports_qbr(
    client: Annotated[str, typer.Argument(help="client id, e.g. belton")],
    quarter: Annotated[str, typer.Argument(help="e.g. 2026-Q4: the current quarter (its "
                                           "figures so far) or one up to two years back")],
    pdf: Annotated[Path | None, typer.Option(help="also write the report's PDF here")] = None,
    wait: Annotated[float, typer.Option(min=0, max=600, help="seconds to wait for the "
                                        "figures")] = 120,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.TABLE,
) -> None:
    """Make a client's quarterly business review now (or find the one made already) and
    show its headline figures; the same as POST /v1/reports/qbr/CLIENT/QUARTER."""
    from desk.errors import DeskError
    from desk.reports import make_qbr
    from desk.state import Desk
    from domain.documents.qbr import headline, qbr_pdf
    from domain.msp import document_lines

    settings = operator_settings()  # beside `make run`: its codec key
    config = config_or_exit(settings.config_path)
    tenant = config.client(client)
    if tenant is None:
        known = ", ".join(c.id for c in config.clients)
        err.print(f"no client {client[:40]!r} in {settings.config_path}: one of {known}",
                  markup=False)
        raise typer.Exit(2)

    async def make(temporal):
        desk = Desk.build(settings, config, temporal)
        return await make_qbr(desk, OPERATOR, tenant.id, quarter, wait)

    try:
        ordered, report = with_temporal(make)
    except DeskError as exc:  # one line, never a traceback: what to fix, or to retry
        if exc.errors:  # the quarter: not one that may be made
            error = exc.errors[0]
            err.print(f"{error['field']}: {error['message']} ({error['fix']})", markup=False)
            raise typer.Exit(2) from exc
        err.print(f"{exc.title}: {exc.detail}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    url = ordered.report
    if report.figures is not None and pdf is not None:
        pdf.write_bytes(qbr_pdf(report.figures, msp=document_lines(config.msp)))
    if output is Output.JSON:
        print(json.dumps({"started": ordered.started, "url": url,
                          **report.model_dump(mode="json")}, indent=2))
    else:
        news = "made now" if ordered.started else "already made"
        out.print(f"QBR {tenant.id} {quarter}: {news}, {report.status}; {url}", markup=False)
        if report.figures is not None:
            table([{"what": k, "value": v} for k, v in headline(report.figures)],
                  {"what": "", "value": "value"}, wrap=frozenset({"value"}))
    if report.figures is None:
        err.print(f"the figures were not ready within {wait:g} s: run the command again "
                  "(it makes nothing twice)", markup=False)
        raise typer.Exit(1)
