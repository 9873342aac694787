"""python -m planner_svc: run one planner replica (start more to scale out)."""

import asyncio

from planner_svc.app import create_app
from troupe.settings import Settings

if __name__ == "__main__":
    asyncio.run(create_app(Settings.for_service("planner")).run())
