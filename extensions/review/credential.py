"""``git-credential-jupyterhub-ds``: a git credential helper that asks the hub for a fresh token.

Installed in the single-user image and enabled with
``git config --system credential.helper jupyterhub-ds``. For the GitLab host named in
``JUPYTERHUB_DS_GITLAB_URL`` it answers ``username=oauth2`` and ``password=<the owner's
current GitLab OAuth token>``, read from the hub API with the server's own hub token
(JupyterHub's documented pattern: the server token may read its owner's auth_state). The
GitLab token is never written to disk, never put in the environment and never logged; it
only travels from the hub to git through this process's stdout.

The git credential protocol (git-credential(1)) is small and has no maintained Python
library, hence the hand-written parser below.
"""

import json
import os
import sys
import urllib.error
import urllib.request
from urllib.parse import quote, urlsplit


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


def fetch_token(api_url, api_token, user, timeout=10):
    """The owner's current GitLab access token from the hub's auth_state."""
    req = urllib.request.Request(
        f"{api_url.rstrip('/')}/users/{quote(user, safe='')}",
        headers={"Authorization": f"token {api_token}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        model = json.load(resp)
    auth_state = model.get("auth_state") or {}
    token = auth_state.get("access_token")
    if not token:
        raise LookupError(
            "the hub returned no GitLab token for this user (auth_state missing: is "
            "enable_auth_state on and does the server token have admin:auth_state!user?)"
        )
    return token


def main(argv=None, stdin=None, stdout=None, environ=None):
    argv = sys.argv[1:] if argv is None else argv
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    env = os.environ if environ is None else environ
    if not argv or argv[0] != "get":
        return 0  # store/erase: nothing is ever stored
    attrs = parse_request(stdin.read())
    if not matches_gitlab(attrs, env.get("JUPYTERHUB_DS_GITLAB_URL", "")):
        return 0  # not our host: let git try other helpers
    try:
        token = fetch_token(env["JUPYTERHUB_API_URL"], env["JUPYTERHUB_API_TOKEN"], env["JUPYTERHUB_USER"])
    except KeyError as e:
        print(f"git-credential-jupyterhub-ds: {e.args[0]} is not set; run git inside a JupyterHub server", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, LookupError, ValueError) as e:
        print(f"git-credential-jupyterhub-ds: could not get a GitLab token from the hub: {e}", file=sys.stderr)
        return 1
    stdout.write(format_answer(token))
    stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
