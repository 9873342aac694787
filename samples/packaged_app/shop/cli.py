import sys

import shop.util.text as text_utils

from . import orders as order_mod
from .models.order import Order


def main() -> None:
    args = parse_args(sys.argv[1:])
    service = order_mod.OrderService()
    service.checkout(Order(args))
    text_utils.banner("done")
    handlers = {"audit": audit}
    handlers[args[0]]()  # dynamic: cannot be resolved statically
    plugin_hook()  # never defined anywhere


def parse_args(argv: list[str]) -> list[str]:
    def normalise(value: str) -> str:
        return value.strip().lower()

    return [normalise(a) for a in argv] or ["audit"]


def audit() -> None:
    text_utils.banner("audit")


if __name__ == "__main__":
    main()
