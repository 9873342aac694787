def validate(value: str) -> bool:
    return value.strip().isdigit()


def process_data(records: list[int]) -> int:
    return sum(square(r) for r in records)


def square(n: int) -> int:
    return n * n
