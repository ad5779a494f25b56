"""The local launcher: Kafka, FerretDB, the sandbox and the five services as plain processes on
loopback, no Docker. `python -m deploy.local --help`; see deploy/local/README.md."""
