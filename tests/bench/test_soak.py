"""The soak's readings of a sample: where a validator's time went, the counts an engine
keeps, what the Go runtime says of its memory, and the run's arguments."""

from bench.soak import get_count_change, get_work, parse_args, parse_go_memory


def test_a_samples_work_is_per_second_of_the_sample_and_per_height_committed_in_it() -> None:
    window = {
        "busy": {"consensus": 6.0, "block_apply": 12.0},
        "step_s": {"propose": 10.0, "commit": 25.0},
        "sent": {"consensus": 1_200_000.0, "reports": 0.0},
    }
    assert get_work(window, seconds=60.0, heights=100) == {
        "busy": {"block_apply": 0.2, "consensus": 0.1},
        "step_ms_per_height": {"commit": 250.0, "propose": 100.0},
        "sent_bytes_per_s": {"consensus": 20_000},
    }
    assert get_work({}, seconds=60.0, heights=0) == {
        "busy": {},
        "step_ms_per_height": {},
        "sent_bytes_per_s": {},
    }


def test_a_count_an_engine_does_not_keep_stays_unknown_and_one_it_keeps_changes() -> None:
    assert get_count_change(None, None) is None
    assert get_count_change(7, None) == 7
    assert get_count_change(7, 5) == 2


GO_METRICS = """# TYPE go_goroutines gauge
go_goroutines 311
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 4.194304e+07
# TYPE go_memstats_heap_idle_bytes gauge
go_memstats_heap_idle_bytes 3.145728e+07
# TYPE go_memstats_heap_released_bytes gauge
go_memstats_heap_released_bytes 1.048576e+07
# TYPE go_memstats_sys_bytes gauge
go_memstats_sys_bytes 9.437184e+07
# TYPE go_memstats_alloc_bytes_total counter
go_memstats_alloc_bytes_total 1e+12
"""


def test_the_go_runtime_says_what_is_live_and_what_is_freed_but_kept() -> None:
    assert parse_go_memory(GO_METRICS) == {
        "goroutines": 311.0, "heap_inuse": 40.0, "retained": 20.0, "sys": 90.0,
    }  # fmt: skip


def test_cometbft_warms_up_for_longer_unless_told() -> None:
    assert parse_args([]).warmup_minutes == 5.0
    assert parse_args(["--engine", "cometbft"]).warmup_minutes == 20.0
    assert parse_args(["--engine", "cometbft", "--warmup-minutes", "3"]).warmup_minutes == 3.0
