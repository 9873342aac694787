from app import stages
from app.processing import process_data


def run_pipeline(config: dict[str, object]) -> str:
    raw = stages.read_records(config)
    cleaned = stages.clean_records(raw)
    if len(cleaned) > 100:
        return run_in_batches(cleaned, int(str(config["batch_size"])))
    return stages.summarise(stages.transform(cleaned))


def run_in_batches(records: list[int], size: int) -> str:
    totals = [process_data(records[i : i + size]) for i in range(0, len(records), size)]
    return stages.summarise(sum(totals))
