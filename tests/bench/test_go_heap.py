from pathlib import Path

import pytest

from bench.go_heap import HeapProfileError, get_heap_growth, parse_top

# `go tool pprof -top -unit=MB -sample_index=inuse_space -nodecount=8 -base A B` of two
# heap profiles a soak's `cometbft` gave a minute apart
TOP = """File: cometbft
Build ID: 36106728882efabb20f9f8bf8160ba5c0ca5bcd0
Type: inuse_space
Time: 2026-11-28 17:37:04 UTC
Showing nodes accounting for 5.57MB, 73.21% of 7.61MB total
Showing top 8 nodes out of 81
      flat  flat%   sum%        cum   cum%
       4MB 52.56% 52.56%        4MB 52.56%  github.com/syndtr/goleveldb/leveldb/memdb.New
       1MB 13.14% 65.70%     1.50MB 19.71%  time.NewTimer
   -0.52MB  6.83% 66.58%    -0.52MB  6.83%  fmt.(*fmt).fmtSbx
         0     0% 73.21%    -0.52MB  6.83%  fmt.(*fmt).fmtBx
"""


def test_each_site_line_gives_its_flat_and_cumulative_megabytes_and_the_header_none() -> None:
    assert parse_top(TOP) == [
        {"flat_mb": 4.0, "cum_mb": 4.0,
         "function": "github.com/syndtr/goleveldb/leveldb/memdb.New"},
        {"flat_mb": 1.0, "cum_mb": 1.5, "function": "time.NewTimer"},
        {"flat_mb": -0.52, "cum_mb": -0.52, "function": "fmt.(*fmt).fmtSbx"},
        {"flat_mb": 0.0, "cum_mb": -0.52, "function": "fmt.(*fmt).fmtBx"},
    ]  # fmt: skip


def test_files_that_are_not_heap_profiles_are_refused_with_what_pprof_said(
    tmp_path: Path,
) -> None:
    base, last = tmp_path / "a.pb.gz", tmp_path / "b.pb.gz"
    base.write_bytes(b"not a profile")
    last.write_bytes(b"not one either")
    with pytest.raises(HeapProfileError) as info:
        get_heap_growth(base, last)
    assert (info.value.base, info.value.last) == (base, last)
    assert str(base) in str(info.value) and info.value.stderr
