"""Solidity sources of the vault and test token, their compiled artifacts, and the compiler pin."""
