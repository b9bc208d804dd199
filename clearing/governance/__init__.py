"""Governance: proposals to change the configuration in force (listings, instrument
status, risk parameters, venues), decided by the validators' votes (docs/governance.md)."""
