"""python -m executor_svc: run one executor replica (start more to scale out)."""

import asyncio

from executor_svc.app import create_app
from executor_svc.settings import ExecutorSettings

if __name__ == "__main__":
    asyncio.run(create_app(ExecutorSettings.for_service("executor")).run())
