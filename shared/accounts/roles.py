"""The two kinds of account. A `Role` is a `str`, so it compares equal to the
`"user"`/`"captain"` stored in tokens and documents."""
from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    CAPTAIN = "captain"

    @property
    def collection(self):
        """The collection holding accounts of this role."""
        return f"{self.value}s"

    @property
    def plural(self):
        return f"{self.value}s"

    @classmethod
    def parse(cls, value):
        """The Role named by `value`, or None (also for non-strings, e.g. a forged list)."""
        return cls(value) if isinstance(value, str) and value in cls._value2member_map_ else None
