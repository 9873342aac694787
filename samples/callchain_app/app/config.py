def load_config() -> dict[str, object]:
    return {"records": [" 3", "1 ", "x", "2"], "batch_size": 2}
