"""python -m reviewer_svc: run one reviewer replica (start more to scale out)."""

import asyncio

from reviewer_svc.app import create_app
from troupe.settings import Settings

if __name__ == "__main__":
    asyncio.run(create_app(Settings.for_service("reviewer")).run())
