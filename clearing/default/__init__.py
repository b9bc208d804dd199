"""Default management: liquidation, the waterfall, auto-deleveraging, the default fund."""
