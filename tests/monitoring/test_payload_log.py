"""The payload log: what serving hands it comes back as columns; it stays within its bounds."""

import time
from dataclasses import replace

import numpy as np

from jukebox.monitoring.payload_log import (
    ID,
    TAG,
    PayloadLog,
    enforce_bounds,
    list_segments,
    read_log,
    write_segment,
)
from jukebox.serving.inference_log import InferenceRecord

FEATURES = ("danceability", "tempo")


def record(i: int, rows: int = 1, model: str = "jukebox") -> InferenceRecord:
    return InferenceRecord(
        request_id=f"r{i}",
        model=model,
        version="3",
        time=1000.0 + i,
        inputs={f: np.full((rows, 1), i, dtype=np.float32) for f in FEATURES},
        outputs={"output": np.tile(np.array([[0.25, 0.75]], dtype=np.float32), (rows, 1))},
    )


def test_records_come_back_as_columns_named_as_trustyai_names_them(tmp_path):
    log = PayloadLog(tmp_path, flush_interval=60)
    for i in range(5):
        log(record(i))
    log(record(5, rows=3))
    log.close()
    frame = read_log(tmp_path, "jukebox")
    assert list(frame[ID]) == ["r0", "r1", "r2", "r3", "r4", "r5", "r5", "r5"]
    assert list(frame["tempo"]) == [0, 1, 2, 3, 4, 5, 5, 5]
    assert list(frame["output-1"]) == [0.75] * 8
    assert set(frame[TAG]) == {""} and set(frame["_version"]) == {"3"}
    assert list(read_log(tmp_path, "jukebox", last=2)["tempo"]) == [5, 5]
    assert list(read_log(tmp_path, "jukebox", since=1002, until=1004)[ID]) == ["r2", "r3"]
    assert read_log(tmp_path, "other").empty


def test_tags_are_kept_apart(tmp_path):
    write_segment(tmp_path, "m", {TAG: ["TRAINING"] * 2, "_time": [1.0, 2.0], "a": [1, 2]}, True)
    write_segment(tmp_path, "m", {TAG: [""] * 1, "_time": [3.0], "a": [9]}, False)
    assert list(read_log(tmp_path, "m", tag="TRAINING")["a"]) == [1, 2]
    assert list(read_log(tmp_path, "m", exclude_tag="TRAINING")["a"]) == [9]
    assert list(read_log(tmp_path, "m", tag="")["a"]) == [9]


def test_the_oldest_live_segment_goes_first_and_the_reference_last(tmp_path):
    reference = write_segment(tmp_path, "m", {TAG: ["TRAINING"] * 100, "a": np.arange(100.0)}, True)
    live = []
    for i in range(4):
        time.sleep(0.002)
        live.append(
            write_segment(tmp_path, "m", {TAG: [""] * 100, "a": np.arange(100.0) + i}, False)
        )
    budget = sum(p.stat().st_size for p in (reference, live[2], live[3]))
    dropped = enforce_bounds(tmp_path, "m", max_bytes=budget, max_age=None)
    assert dropped == live[:2]
    assert [s.path for s in list_segments(tmp_path, "m")] == [reference, *live[2:]]
    dropped = enforce_bounds(tmp_path, "m", max_bytes=1, max_age=None)
    assert dropped == [live[2], reference]  # the newest segment always stays
    assert [s.path for s in list_segments(tmp_path, "m")] == [live[3]]


def test_a_writer_keeps_its_log_bounded(tmp_path):
    log = PayloadLog(tmp_path, max_bytes=20_000, flush_interval=60)
    for batch in range(30):
        for i in range(20):
            log(record(batch * 20 + i))
        log.flush()
    log.close()
    total = sum(s.size for s in list_segments(tmp_path, "jukebox"))
    newest = list_segments(tmp_path, "jukebox")[-1].size
    assert total <= 20_000 + newest
    frame = read_log(tmp_path, "jukebox")
    assert frame[ID].iloc[-1] == "r599" and len(frame) < 600
    assert frame["_time"].is_monotonic_increasing


def test_segments_older_than_the_age_limit_are_dropped(tmp_path):
    old = write_segment(tmp_path, "m", {"a": [1]}, False)
    assert enforce_bounds(tmp_path, "m", max_bytes=None, max_age=10, now=time.time() + 11) == [old]


def test_records_that_differ_from_the_first_come_back_with_their_own_values(tmp_path):
    """The bulk path only takes records shaped alike; any other record (features in another
    order, another dtype, a missing or extra input, several rows) must still be stored exactly."""
    log = PayloadLog(tmp_path, flush_interval=60)
    log(record(0))
    log(replace(record(1), inputs=dict(reversed(record(1).inputs.items()))))
    log(replace(record(2), inputs={f: np.full((1, 1), 2.5) for f in FEATURES}))  # float64
    log(record(3, rows=2))
    log(record(4))
    log.close()
    frame = read_log(tmp_path, "jukebox")
    assert list(frame[ID]) == ["r0", "r1", "r2", "r3", "r3", "r4"]
    assert list(frame["tempo"]) == [0, 1, 2.5, 3, 3, 4]
    assert list(frame["danceability"]) == [0, 1, 2.5, 3, 3, 4]
    assert list(frame["output-0"]) == [0.25] * 6


def test_a_value_the_first_records_dtype_cannot_hold_is_not_rounded(tmp_path):
    log = PayloadLog(tmp_path, flush_interval=60)
    log(record(0))  # float32 features
    log(replace(record(1), inputs={f: np.full((1, 1), 0.1) for f in FEATURES}))  # float64
    log.close()
    assert list(read_log(tmp_path, "jukebox")["tempo"]) == [0.0, 0.1]


def test_requests_of_several_rows_carry_their_request_on_each_row(tmp_path):
    log = PayloadLog(tmp_path, flush_interval=60)
    for i in range(3):
        log(record(i, rows=2))
    log(record(3, rows=2, model="other"))
    log.close()
    frame = read_log(tmp_path, "jukebox")
    assert list(frame[ID]) == ["r0", "r0", "r1", "r1", "r2", "r2"]
    assert list(frame["_time"]) == [1000.0, 1000.0, 1001.0, 1001.0, 1002.0, 1002.0]
    assert list(frame["tempo"]) == [0, 0, 1, 1, 2, 2]
    assert list(read_log(tmp_path, "other")[ID]) == ["r3", "r3"]
