"""Runtime pieces the services share that are not contracts: settings, connections, logging, telemetry."""

__version__ = "0.1.0"
