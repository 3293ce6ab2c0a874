"""Helpers shared by the tests. A test module imports from here (or from tests/support/harness.py, or
its folder's support.py), never from another test module: tests/ops/test_test_imports.py checks.

- slack.py     what a person does in Slack (request, ask, extend) and what they are shown
- requests.py  a running bot's request brought to a point of its life; the bot's clock moved
- config.py    the YAML config, built as Python data
- rows.py      rows written straight to the database
- metrics.py   reading `GET /metrics`
- cli.py       running `latchkey` as a separate process
- postgres.py  throw-away PostgreSQL databases
"""
