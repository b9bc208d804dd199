"""Benchmarks. Each `bench/<name>.py` exposes `run() -> dict` and is run as
`python -m bench <name>`; the figures are printed as one JSON object on the
last line so scripts and closing notes can quote them verbatim."""
