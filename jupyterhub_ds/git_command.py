"""Every git process jupyterhub-ds starts: safe in working copies it does not own, no secret in its environment.

A working copy is data an attacker may have written (a repository planted in a writable
shared mount, say), and its ``.git/config`` and ``.git/hooks`` can make git run programs or
send credentials elsewhere. So every git command we run (the review extension's, the
workspace clone's, the promotion service's):

* gets ``-c`` options (the command line wins over every config file) that turn off hooks,
  fsmonitor, askpass programs, credential helpers from any config, proxies, signing
  programs, alternate-refs commands, external diff and automatic maintenance;
* speaks only http(s) (``GIT_ALLOW_PROTOCOL``: no ssh command, no ``ext::``), never through a
  proxy (``NO_PROXY=*``: the repository's ``http.proxy``, ``http.<url>.proxy`` or
  ``remote.<name>.proxy`` would receive the credentials);
* runs with an allow-listed environment, so the hub API token of the server (or anything
  else secret in ours) never reaches git or what git starts;
* gets the GitLab token, when it needs one, from our own credential helper reading a pipe
  (:func:`credential_pipe`), which answers only for the GitLab host.

No library does this (GitPython passes the caller's environment and config through), hence
this module. :func:`scrub` is the one place that removes credentials from git's messages
(and from remote URLs); :func:`message` makes git's output fit for people.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
from contextlib import contextmanager
from urllib.parse import urlsplit

SAFE_CONFIG = (
    "core.hooksPath=/dev/null",  # no hook runs, whatever .git/hooks or the config say
    "core.fsmonitor=false",  # no fsmonitor program
    "core.askPass=",  # with GIT_ASKPASS="" below: nobody is asked for a password
    "credential.helper=",  # forget every configured helper (ours comes after)
    "http.proxy=",  # an empty proxy turns proxies off (NO_PROXY covers the rest)
    "http.sslVerify=true",
    "commit.gpgSign=false",  # commit-tree would run gpg.program
    "tag.gpgSign=false",
    "core.alternateRefsCommand=true",  # fetch would run it for the repository's alternates
    "core.sshCommand=false",
    "diff.external=",
    "core.pager=cat",
    "gc.auto=0",  # no background gc or maintenance started by fetch
    "maintenance.auto=false",
)

# What a git process may see of our environment (names; values come from os.environ).
ENV_ALLOWED = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "CURL_CA_BUNDLE",
    "XDG_CONFIG_HOME",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_NOSYSTEM",
)
ENV_FIXED = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",  # set but empty: core.askPass and SSH_ASKPASS are not used
    "SSH_ASKPASS": "",
    "GCM_INTERACTIVE": "never",
    "GIT_ALLOW_PROTOCOL": "http:https",  # overrides every protocol.*.allow of the config
    "NO_PROXY": "*",
    "no_proxy": "*",
}


def git_env(extra: dict | None = None, base: dict | None = None) -> dict:
    """The whole environment of a git process: allow-listed variables, the fixed ones, ``extra``."""
    base = os.environ if base is None else base
    env = {k: base[k] for k in ENV_ALLOWED if k in base}
    env.setdefault("PATH", os.defpath)
    env.update(ENV_FIXED)
    env.update(extra or {})
    return env


def blanked_environment(base: dict | None = None) -> dict:
    """For GitPython, which always starts from ``os.environ`` and can only add to it: every
    variable we would not pass set to the empty string (so no secret reaches its git processes)."""
    base = os.environ if base is None else base
    keep = set(ENV_ALLOWED)
    return {**{k: "" for k in base if k not in keep}, **ENV_FIXED}


def config_args() -> list[str]:
    return [arg for option in SAFE_CONFIG for arg in ("-c", option)]


def command(*args: str, helper: str | None = None) -> list[str]:
    """``git -c … [-c credential.helper=<helper>] <args>``."""
    cmd = ["git", *config_args()]
    if helper:
        cmd += ["-c", f"credential.helper={helper}"]
    return [*cmd, *args]


# everything between :// and the last @ of a URL's authority (a password may hold an @)
_CREDENTIALS_IN_URL = re.compile(r"://[^/\s]*@")


def scrub(text: str, *secrets: str) -> str:
    """Remove credentials from git's messages and from URLs: ``user:token@`` in URLs, and the
    given secrets."""
    text = _CREDENTIALS_IN_URL.sub("://", text or "")
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def message(output: str, *secrets: str) -> str:
    """git's output for people: scrubbed, without blank lines and GitLab's ``remote:`` prefixes."""
    lines = scrub(output, *secrets).splitlines()
    return "\n".join(line.replace("remote: ", "").rstrip() for line in lines if line.strip()).strip()


# ---- credentials -------------------------------------------------------------------------------


def helper_command(fd: int, gitlab_url: str) -> str:
    """The credential helper (``!`` shell form) that answers, for ``gitlab_url``'s host only,
    with the credential written into the pipe ``fd``."""
    return (
        f"!{shlex.quote(sys.executable)} -m jupyterhub_ds.git_credential "
        f"--from-fd {fd} --gitlab-url {shlex.quote(gitlab_url)}"
    )


@contextmanager
def credential_pipe(token: str | None, gitlab_url: str):
    """-> (helper, pass_fds) for a git command that needs the GitLab ``token``: the token is
    written into a pipe git's children inherit, never into an environment, file or argument."""
    if not token:
        yield None, ()
        return
    if not urlsplit(gitlab_url).netloc:
        raise ValueError(f"no GitLab URL to give credentials for (got {gitlab_url!r})")
    read_end, write_end = os.pipe()
    try:
        data = f"username=oauth2\npassword={token}\n".encode()
        # a pipe holds 64 KiB; a token is a few dozen bytes, so this never blocks
        os.write(write_end, data)
        os.close(write_end)
        write_end = None
        yield helper_command(read_end, gitlab_url), (read_end,)
    finally:
        if write_end is not None:
            os.close(write_end)
        os.close(read_end)


# ---- running -------------------------------------------------------------------------------------


class GitTimeout(Exception):
    def __init__(self, args, timeout):
        super().__init__(f"git {args[0]} got no answer within {timeout:.0f} s")
        self.timeout = timeout


def run(args, *, cwd=None, timeout=60.0, token=None, gitlab_url="", env=None, input=None, helper=None):
    """Run ``git <args>`` safely; -> CompletedProcess (bytes). ``token``: the GitLab token for
    ``gitlab_url`` (through our helper); ``helper``: another credential helper instead."""
    with credential_pipe(None if helper else token, gitlab_url) as (ours, fds):
        try:
            return subprocess.run(
                command(*args, helper=helper or ours),
                cwd=cwd,
                env=git_env(env),
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                pass_fds=fds,
            )
        except subprocess.TimeoutExpired:
            raise GitTimeout(args, timeout) from None


async def run_async(args, *, cwd=None, timeout=60.0, token=None, gitlab_url="", env=None, input=None, helper=None):
    """:func:`run` for asyncio callers; the process is killed at the timeout."""
    with credential_pipe(None if helper else token, gitlab_url) as (ours, fds):
        proc = await asyncio.create_subprocess_exec(
            *command(*args, helper=helper or ours),
            cwd=cwd,
            env=git_env(env),
            pass_fds=fds,
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(input), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise GitTimeout(args, timeout) from None
    return subprocess.CompletedProcess(args, proc.returncode, out, err)
