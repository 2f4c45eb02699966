"""A small GitLab-compatible server for tests and demos (a test double; product code never imports it).

Start it with ``python -m tests.fake_gitlab --seed FILE``; see README.md for the seed format and
the endpoints it serves. It follows GitLab's documented behaviour for what the product uses:
OAuth2 (Doorkeeper-style), a REST v4 subset and git smart HTTP over real bare repositories.
"""
