"""Data versions: both tables of the data set versioned with DVC in a git repository.

``records`` (what a version is), ``repository`` (the git + DVC repository, its lock and remotes),
``operations`` (make, list, resolve, read, revert, check out), ``diff`` (what changed between
two versions). Everything a page, the CLI or a pipeline needs is importable from here.
"""

from jukebox.data.versions.diff import Contents, DataDiff, diff_data, diff_versions, read_contents
from jukebox.data.versions.operations import (
    checkout,
    current_version,
    find_version,
    list_versions,
    read_version,
    remotes,
    resolve,
    revert_to,
    sync,
    version_current,
)
from jukebox.data.versions.records import DataVersion, DataVersionError, TableVersion
from jukebox.data.versions.repository import DVC_FILES, SOURCE_REMOTE, VERSION_REMOTE

__all__ = [
    "DVC_FILES",
    "SOURCE_REMOTE",
    "VERSION_REMOTE",
    "Contents",
    "DataDiff",
    "DataVersion",
    "DataVersionError",
    "TableVersion",
    "checkout",
    "current_version",
    "diff_data",
    "diff_versions",
    "find_version",
    "list_versions",
    "read_contents",
    "read_version",
    "remotes",
    "resolve",
    "revert_to",
    "sync",
    "version_current",
]
