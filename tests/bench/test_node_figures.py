"""Where a validator's time goes in a `bench network` step, from its metrics texts: the
`cometbft` process's own CPU is a part of its own, never the node's process CPU."""

from bench.node_figures import get_busy_shares, get_figures, subtract

NODE = """\
# TYPE clearnode_busy_seconds_total counter
clearnode_busy_seconds_total{part="block_apply"} 3.0
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 50.0
"""
COMETBFT = """\
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total {cpu}
# TYPE cometbft_consensus_step_duration_seconds summary
cometbft_consensus_step_duration_seconds_sum{{chain_id="c",step="Commit"}} 2.0
cometbft_consensus_step_duration_seconds_count{{chain_id="c",step="Commit"}} 40
"""


def test_the_cometbft_process_cpu_is_a_part_and_the_nodes_own_process_cpu_is_not() -> None:
    before = get_figures(NODE, COMETBFT.format(cpu=10.0))
    after = get_figures(NODE.replace("3.0", "4.0"), COMETBFT.format(cpu=12.0))
    window = subtract(after, before)
    assert get_busy_shares(window, 4.0) == {"block_apply": 0.25, "cometbft": 0.5}
    assert get_figures(NODE, None)["busy"] == {"block_apply": 3.0}
    assert window["step_s"] == {"Commit": 0.0}
