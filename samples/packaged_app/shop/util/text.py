def banner(text: str) -> None:
    print(f"== {text} ==")
