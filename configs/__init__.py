"""The example configuration the node ships: the genesis every new network starts from
(`genesis.example.json`: `clearnode init`, `clearnode genesis template`, the devnet),
the node's example config, alert rules, a Grafana dashboard and a systemd unit. A
package, so that an installed node (a wheel of `make dist`) carries them too."""

from __future__ import annotations

from pathlib import Path

CONFIGS = Path(__file__).resolve().parent
EXAMPLE_GENESIS = CONFIGS / "genesis.example.json"
EXAMPLE_NODE_CONFIG = CONFIGS / "node.example.toml"
GRAFANA_DASHBOARD = CONFIGS / "grafana" / "clearnode.json"
