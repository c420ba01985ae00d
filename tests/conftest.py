"""What every test shares: no process a test started outlives the test session.

Tests that start servers or background jobs stop them themselves; this is the net under them. A
page that lists registered versions starts the embedded registry on demand, and a pipeline run
may start it too, in a JUKEBOX_HOME under this session's temporary directory: every process whose
command line names that directory is ended when the session ends.
"""

from __future__ import annotations

import psutil


def pytest_sessionfinish(session, exitstatus) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    root = str(factory.getbasetemp())
    leftovers = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(root in part for part in process.info["cmdline"] or ()):
                process.kill()
                leftovers.append(process)
        except psutil.Error:
            continue
    psutil.wait_procs(leftovers, timeout=10)
