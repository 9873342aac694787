"""`python -m gateway_svc`: the API and the projection consumer in one process."""

from __future__ import annotations

import uvicorn

from gateway_svc.app import create_app
from gateway_svc.settings import GatewaySettings
from troupe.logs import configure_logging
from troupe.telemetry import configure_telemetry


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_json)
    configure_telemetry(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_level=settings.log_level.lower(),
        # Requests are logged as structlog JSON by the app itself (with tenant, task and trace ids).
        log_config=None,
        access_log=False,
        proxy_headers=False,
        # Open event streams would otherwise hold a shutdown until their tasks end.
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
