from .util.retry import with_retry


def charge(amount: float) -> bool:
    return with_retry(lambda: gateway_call(amount), attempts=3)


def gateway_call(amount: float) -> bool:
    return ping(3) and amount >= 0


# A call cycle: ping -> pong -> ping.
def ping(n: int) -> bool:
    return pong(n - 1) if n > 0 else True


def pong(n: int) -> bool:
    return ping(n)
