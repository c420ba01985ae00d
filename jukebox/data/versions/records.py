"""What a data version is: the git commit that pins both tables' DVC md5s, and its error type."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from jukebox.errors import JukeboxError


class DataVersionError(JukeboxError):
    """A data version cannot be made, found or read; the message says what and how to fix it."""


@dataclass(frozen=True)
class TableVersion:
    """One table as DVC tracks it: its md5 (DVC's content hash), size in bytes and row count.

    ``rows`` is None only for a ``.dvc`` file written by something other than Jukebox.
    """

    name: str
    md5: str
    size: int
    rows: int | None


@dataclass(frozen=True)
class DataVersion:
    """A git commit of the data repository that changed the ``.dvc`` files of both tables."""

    commit: str
    date: datetime
    message: str
    tables: dict[str, TableVersion]

    @property
    def short(self) -> str:
        """The 7-character commit, as people write it."""
        return self.commit[:7]

    @property
    def md5(self) -> str:
        """One id of the content of both tables: the same two tables always give the same id."""
        return combined_md5({name: table.md5 for name, table in self.tables.items()})

    def summary(self) -> dict[str, object]:
        """Plain values for tables, JSON and registry metadata."""
        return {
            "commit": self.commit,
            "short": self.short,
            "date": self.date.isoformat(),
            "message": self.message,
            "md5": self.md5,
            **{f"{name}_md5": t.md5 for name, t in self.tables.items()},
            **{f"{name}_rows": t.rows for name, t in self.tables.items()},
            **{f"{name}_size": t.size for name, t in self.tables.items()},
        }


def combined_md5(md5s: dict[str, str]) -> str:
    """The md5 of the sorted ``name md5`` lines of the tables: one id for a whole data set."""
    listing = "".join(f"{name} {md5s[name]}\n" for name in sorted(md5s))
    return hashlib.md5(listing.encode()).hexdigest()  # noqa: S324 - an id, like DVC's own md5
