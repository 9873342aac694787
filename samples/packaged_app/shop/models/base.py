class Model:
    def __init__(self) -> None:
        self.validate_fields()

    def validate_fields(self) -> None:
        pass
