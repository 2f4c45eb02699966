"""``ReviewConfig``: every setting of the review extension, as traitlets traits with help.

Defaults come from the environment the spawner sets (``JUPYTERHUB_DS_*``) and from the hub API;
tests and other deployments override them with ``c.ReviewConfig.<name>``.
"""

from __future__ import annotations

import getpass
import json
import os

from jupyter_core.paths import jupyter_data_dir
from traitlets import Bool, Callable, Dict, Float, List, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from . import hub_events, identity
from .policy import POLICY_ENV, ReviewPolicy, parse_policy, policy_from_dict

WORKSPACE_ENV = "JUPYTERHUB_DS_WORKSPACE"


class ReviewConfig(LoggingConfigurable):
    token_source = Callable(
        help="""A function () -> str returning the user's current GitLab access token for API calls.
        Default: ask the hub for the owner's token (credential.fetch_token). Called for every
        submit/status, in a worker thread; the token is never stored.""",
    ).tag(config=True)

    @default("token_source")
    def _default_token_source(self):
        return identity.hub_token

    identity_source = Callable(
        help="""A function () -> {"username", "name", "email"}: the GitLab user commits are made as.
        Default: auth_state["gitlab_user"] from the hub API.""",
    ).tag(config=True)

    @default("identity_source")
    def _default_identity_source(self):
        return identity.hub_identity

    event_reporter = Callable(
        help="""A function (event: dict) -> bool that hands a review event (a submit, a refusal) to
        the hub's audit trail and metrics. Default: post it to the hub
        (hub_events.post: /hub/api/jupyterhub-ds/users/:name/events, the server's own token).
        Called after the answer, in a worker thread; a failure is logged, never the submit's.""",
    ).tag(config=True)

    @default("event_reporter")
    def _default_event_reporter(self):
        return hub_events.post

    username = Unicode(help="The user's name in review branches (review/<username>/<slug>).").tag(config=True)

    @default("username")
    def _default_username(self):
        return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()

    gitlab_url = Unicode(help="Base URL of GitLab (default: $JUPYTERHUB_DS_GITLAB_URL).").tag(config=True)

    @default("gitlab_url")
    def _default_gitlab_url(self):
        return os.environ.get("JUPYTERHUB_DS_GITLAB_URL", "")

    @validate("gitlab_url")
    def _validate_gitlab_url(self, proposal):
        return proposal["value"].rstrip("/")

    policy = Dict(
        help=f"""The review policy (keys of the admin YAML's review section, sizes in bytes).
        Default: the JSON in ${POLICY_ENV}, set by the spawner.""",
    ).tag(config=True)

    @default("policy")
    def _default_policy(self):
        try:
            text = os.environ.get(POLICY_ENV, "")
            return json.loads(text) if text.strip() else {}
        except ValueError:
            self.log.error("%s is not valid JSON; using the default review policy", POLICY_ENV)
            return {}

    def review_policy(self) -> ReviewPolicy:
        """The policy; raises PolicyError (naming the key) when the hub sent a bad one. Checked per
        request rather than at load, so the server still starts and the API can say what is wrong."""
        return policy_from_dict(self.policy) if self.policy else parse_policy("")

    git_credential_helper = Unicode(
        "",
        help="""A git credential helper for fetch/push instead of the built-in one (git runs
        git-credential-<name>, or a '!command'). Empty (default): the token from token_source is
        handed to git through a pipe, for the GitLab host only. Any helper configured in git's
        own config files (the working copy's included) is ignored.""",
    ).tag(config=True)

    strip_outputs = Bool(
        True,
        help="""With commit_notebooks, strip outputs from the committed notebook. False refuses
        notebooks that have outputs instead (users clear them themselves).""",
    ).tag(config=True)

    summary_timeout = Float(
        1.2,
        help="""Seconds the cell-level summary may take before the script diff is used instead
        (the whole summary, fallback included, stays under 2 s; the summary of a 1000-cell
        notebook with every cell changed takes about 0.4 s).""",
    ).tag(config=True)

    summary_standby = Bool(
        False,
        help="""Keep a second, warm summary worker process (about 70 MB per user server) so that the
        submit right after a timed-out summary gets a cell-level summary at once. Off by default:
        on a shared host the memory matters more (the replacement worker then starts on demand).""",
    ).tag(config=True)

    git_timeout = Float(120.0, help="Seconds a git network command (fetch, push, clone) may take.").tag(config=True)

    gitlab_timeout = Float(20.0, help="Seconds a GitLab API request may take.").tag(config=True)

    run_status_name = Unicode(
        "jupyterhub-ds/run",
        help="""The commit status whose newest state the status shows as each merge request's review
        run (the promotion service's clean run of its head commit, with a link to the executed
        notebooks). Empty: none is read.""",
    ).tag(config=True)

    state_dir = Unicode(help="Folder for the list of submitted notebooks (no secrets in it).").tag(config=True)

    @default("state_dir")
    def _default_state_dir(self):
        return os.path.join(jupyter_data_dir(), "jupyterhub-ds")

    workspace = List(
        help=f"""Projects to clone at server start: [{{"project": "ns/name", "ref": "main"}}].
        Default: the JSON in ${WORKSPACE_ENV}, set by the spawner.""",
    ).tag(config=True)

    @default("workspace")
    def _default_workspace(self):
        try:
            value = json.loads(os.environ.get(WORKSPACE_ENV) or "[]")
        except ValueError:
            self.log.error("%s is not valid JSON; no projects will be cloned", WORKSPACE_ENV)
            return []
        return value if isinstance(value, list) else []

    workspace_dir = Unicode(
        help="Folder (relative to the server root) the workspace projects are cloned into: <dir>/<namespace>/<project>.",
    ).tag(config=True)

    @default("workspace_dir")
    def _default_workspace_dir(self):
        return os.environ.get("JUPYTERHUB_DS_WORKSPACE_DIR") or "projects"

    clone_on_start = Bool(
        True, help="Clone/fetch the workspace projects in the background when the server starts."
    ).tag(config=True)
