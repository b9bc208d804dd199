import pytest
from tests.node.nodenet import open_node_network

@pytest.mark.slow
async def test_four_nodes_commit(tmp_path):
    async with open_node_network(tmp_path) as net:
        await net.wait_for_height(3)
        status = await net.get_json(net.homes[0], "/v1/status")
        assert status["height"] >= 3
