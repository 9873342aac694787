"""The fault suite runs against the same real pipeline as the end-to-end tests."""

from tests.e2e.conftest import api, events, pipeline, producer  # noqa: F401  (fixtures)
from tests.integration.conftest import _servers_are_up  # noqa: F401  (autouse: fail fast without servers)
