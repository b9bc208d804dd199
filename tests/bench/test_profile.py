"""A native process's perf samples read as the node's py-spy samples are: folded into
collapsed stacks, then the functions of most own and cumulative time."""

from bench._profile import fold_perf_script, render_stacks

PERF_SCRIPT = """\
cometbft
\t  4a2f10 runtime.mallocgc
\t  9c1e22 github.com/cometbft/cometbft/p2p/conn.(*MConnection).sendRoutine
\t  4771e1 runtime.goexit.abi0

cometbft
\tffffffff821ed511 do_syscall_64
\t  47a0c3 syscall.Syscall
\t  9c1e22 github.com/cometbft/cometbft/p2p/conn.(*MConnection).sendRoutine
\t  4771e1 runtime.goexit.abi0

cometbft
\t  4a2f10 runtime.mallocgc
\t  9c1e22 github.com/cometbft/cometbft/p2p/conn.(*MConnection).sendRoutine
\t  4771e1 runtime.goexit.abi0

cometbft
\t  58d001
"""


def test_perf_samples_fold_into_stacks_outermost_first_each_counted() -> None:
    folded = fold_perf_script(PERF_SCRIPT).splitlines()
    send = "github.com/cometbft/cometbft/p2p/conn.(*MConnection).sendRoutine"
    assert sorted(folded) == sorted(
        [
            f"runtime.goexit.abi0;{send};runtime.mallocgc 2",
            f"runtime.goexit.abi0;{send};syscall.Syscall;do_syscall_64 1",
            "[unknown] 1",
        ]
    )
    top = render_stacks("\n".join(folded), 5).splitlines()
    assert top[0] == "4 samples"
    assert top[2:] == [
        "  50.0   50.0  runtime.mallocgc",
        "  25.0   25.0  do_syscall_64",
        "  25.0   25.0  [unknown]",
    ]
