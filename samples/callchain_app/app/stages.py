from app.processing import process_data, validate


def read_records(config: dict[str, object]) -> list[str]:
    records = config["records"]
    assert isinstance(records, list)
    return [str(r) for r in records]


def clean_records(raw: list[str]) -> list[int]:
    return [int(r.strip()) for r in raw if validate(r)]


def transform(records: list[int]) -> int:
    return process_data(records)


def summarise(total: int) -> str:
    return f"total: {total}"
