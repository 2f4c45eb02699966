"""The git credential protocol, and the helper our own git commands use.

``python -m jupyterhub_ds.git_credential --from-fd N --gitlab-url URL get`` answers git's
``get`` with the credential written into the inherited pipe ``N`` (see
``jupyterhub_ds.git_command.credential_pipe``), and only when git asks for ``URL``'s scheme
and host: a repository that rewrites its remote (``url.<x>.insteadOf``) to another host gets
nothing. ``store`` and ``erase`` do nothing: nothing is ever stored.

The git credential protocol (git-credential(1)) is small and has no maintained Python
library, hence the hand-written parser.
"""

from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import urlsplit

MAX_REQUEST = 64 * 1024  # git sends a few short lines


def parse_request(text):
    """git's ``key=value`` lines (up to a blank line) -> dict."""
    attrs = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition("=")
        if sep:
            attrs[key.strip()] = value
    return attrs


def matches_gitlab(attrs, gitlab_url):
    """Answer only for the configured GitLab (same scheme and host[:port])."""
    if not gitlab_url:
        return False
    want = urlsplit(gitlab_url)
    return attrs.get("protocol") == want.scheme and attrs.get("host") == want.netloc


def format_answer(token):
    return f"username=oauth2\npassword={token}\n"


def read_fd(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 4096)
        if not chunk or sum(map(len, chunks)) > MAX_REQUEST:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def main(argv=None, stdin=None, stdout=None):
    parser = argparse.ArgumentParser(prog="python -m jupyterhub_ds.git_credential")
    parser.add_argument("--from-fd", type=int, required=True)
    parser.add_argument("--gitlab-url", required=True)
    parser.add_argument("operation")
    args = parser.parse_args(argv)
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    if args.operation != "get":
        return 0
    if not matches_gitlab(parse_request(stdin.read(MAX_REQUEST)), args.gitlab_url):
        return 0
    try:
        answer = read_fd(args.from_fd)
    except OSError:
        return 0  # the pipe was read already (a second request): git reports what it lacks
    stdout.write(answer)
    stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
