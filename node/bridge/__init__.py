"""The bridge as a node service: chain watchers, attestations, withdrawal signatures."""
