"""Entry point: python -m app.main"""

from app.config import load_config
from app.pipeline import run_pipeline


def main() -> None:
    config = load_config()
    summary = run_pipeline(config)
    print(summary)


if __name__ == "__main__":
    main()
