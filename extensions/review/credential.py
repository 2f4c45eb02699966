"""``git-credential-jupyterhub-ds``: the git credential helper of the user's terminal.

Installed in the single-user image and enabled with
``git config --system credential.helper jupyterhub-ds``, so that ``git push`` in a JupyterLab
terminal works. For the GitLab host named in ``JUPYTERHUB_DS_GITLAB_URL`` it answers
``username=oauth2`` and ``password=<a short-lived GitLab access token of the server's owner>``,
which it gets from the hub's ``/hub/api/jupyterhub-ds/users/:name/gitlab-token`` with the
server's own hub token (scope ``custom:jupyterhub-ds:gitlab-token!user``: the token alone,
never the refresh token or the rest of ``auth_state``). The GitLab token is never written
to disk, never put in the environment and never logged; it only travels from the hub to git
through this process's stdout.

The extension's own git commands do not use this helper: they hand git the token through a
pipe (``jupyterhub_ds.git_command``), so the hub token is not in their environment.
"""

import json
import os
import sys
import urllib.error
import urllib.request
from urllib.parse import quote

from jupyterhub_ds.git_credential import format_answer, matches_gitlab, parse_request

__all__ = ["fetch_credentials", "fetch_token", "format_answer", "main", "matches_gitlab", "parse_request"]

MIN_VALIDITY = 300  # seconds the token must stay valid: a long push still finishes with it
MAX_ANSWER = 64 * 1024


def fetch_credentials(api_url, api_token, user, min_validity=MIN_VALIDITY, timeout=10):
    """``{"access_token", "expires_at", "username", "name", "email"}`` from the hub."""
    req = urllib.request.Request(
        f"{api_url.rstrip('/')}/jupyterhub-ds/users/{quote(user, safe='')}/gitlab-token?min_validity={int(min_validity)}",
        headers={"Authorization": f"token {api_token}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            answer = json.loads(resp.read(MAX_ANSWER))
    except urllib.error.HTTPError as e:
        try:
            message = json.loads(e.read(MAX_ANSWER)).get("message", "")
        except ValueError:
            message = ""
        raise LookupError(f"the hub answered {e.code}{': ' + message if message else ''}") from None
    if not isinstance(answer, dict) or not answer.get("access_token"):
        raise LookupError("the hub returned no GitLab token for this user; log in to the hub again")
    return answer


def fetch_token(api_url, api_token, user, timeout=10):
    """The owner's current GitLab access token (valid for at least MIN_VALIDITY seconds)."""
    return fetch_credentials(api_url, api_token, user, timeout=timeout)["access_token"]


def main(argv=None, stdin=None, stdout=None, environ=None):
    argv = sys.argv[1:] if argv is None else argv
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    env = os.environ if environ is None else environ
    if not argv or argv[0] != "get":
        return 0  # store/erase: nothing is ever stored
    attrs = parse_request(stdin.read(MAX_ANSWER))
    if not matches_gitlab(attrs, env.get("JUPYTERHUB_DS_GITLAB_URL", "")):
        return 0  # not our host: let git try other helpers
    try:
        token = fetch_token(env["JUPYTERHUB_API_URL"], env["JUPYTERHUB_API_TOKEN"], env["JUPYTERHUB_USER"])
    except KeyError as e:
        print(
            f"git-credential-jupyterhub-ds: {e.args[0]} is not set; run git inside a JupyterHub server", file=sys.stderr
        )
        return 1
    except (urllib.error.URLError, OSError, LookupError, ValueError) as e:
        print(f"git-credential-jupyterhub-ds: could not get a GitLab token from the hub: {e}", file=sys.stderr)
        return 1
    stdout.write(format_answer(token))
    stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
