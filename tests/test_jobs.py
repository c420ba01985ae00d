"""Background jobs: started detached, found again from their files, reporting, stopped."""

import time

from jukebox.config import load_settings
from jukebox.jobs import list_jobs, load_job, read_status, start_job, stop_job, write_status

REPORTER = (
    "import sys, time; from pathlib import Path; from jukebox.jobs import write_status; "
    "write_status(Path(sys.argv[1]), state='running', step=1); print('hello from job', flush=True);"
    " time.sleep(60)"
)


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_job_reports_survives_lookup_and_stops(tmp_path):
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    job = start_job(settings, "demo", ["-c", REPORTER, "{job_dir}"])
    try:
        assert wait_for(lambda: read_status(job.dir).get("state") == "running")
        assert wait_for(lambda: "hello from job" in job.log_tail())
        found = list_jobs(settings, "demo")
        assert [j.id for j in found] == [job.id]
        assert load_job(job.dir).is_alive()
    finally:
        stop_job(job)
    assert not job.is_alive()


def test_finished_job_is_not_alive_and_status_merges(tmp_path):
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    job = start_job(settings, "demo", ["-c", "print('done')"])
    assert wait_for(lambda: not job.is_alive())
    write_status(job.dir, state="finished")
    write_status(job.dir, accuracy=0.5)
    assert read_status(job.dir) == {"state": "finished", "accuracy": 0.5}
