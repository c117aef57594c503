"""Small helpers the read models share."""

from __future__ import annotations

from dataclasses import dataclass

from dropbridge.domain.money import Money


def money(amount: int, currency: str) -> str:
    return str(Money(int(amount), currency).to_decimal())


@dataclass(frozen=True)
class Paging:
    page: int = 1
    size: int = 50

    @classmethod
    def of(cls, page: int | None, size: int = 50) -> Paging:
        return cls(max(1, min(int(page or 1), 100_000)), size)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def info(self, total: int) -> dict:
        pages = max(1, -(-total // self.size))
        return {"page": self.page, "pages": pages, "total": total, "size": self.size,
                "prev": self.page - 1 if self.page > 1 else None, "next": self.page + 1 if self.page < pages else None}
