from .models.order import Order as OrderModel
from .payments import charge


class OrderService:
    def __init__(self) -> None:
        self.repo = Repository()

    def checkout(self, order: OrderModel) -> None:
        self.validate(order)
        charge(order.total())
        self.repo.save(order)

    def validate(self, order: OrderModel) -> None:
        if order.total() < 0:
            raise ValueError("negative total")


class Repository:
    def save(self, order: OrderModel) -> None:
        persist(order)


def persist(order: OrderModel) -> None:
    print("saved", order)
