from collections.abc import Callable


def with_retry(action: Callable[[], bool], attempts: int) -> bool:
    for _ in range(attempts):
        if action():
            return True
    return False
