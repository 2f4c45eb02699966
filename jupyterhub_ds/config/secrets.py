"""Secrets come from the environment only.

Two checks:
- ``yaml_secret_problems``: a key that names a secret (client_secret, password, token,
  crypt_key, private_key...) or a value that looks like one (a PEM private key, a GitLab
  token, a password inside a database URL) anywhere in the YAML is an error naming the
  environment variable to use instead.
- ``missing_env_problems``: the environment variables this configuration needs at hub start.
"""

import re
from urllib.parse import urlsplit

from .problems import ENV, Problem

SECRET_KEY = re.compile(r"secret|passw|token|crypt_?key|private_?key|api_?key|credential", re.I)
# keys of our schema that contain a secret-ish word but hold no secret
NOT_SECRET_KEYS = {"secret_patterns"}
# review.secret_patterns holds regexes that may look like tokens on purpose
_NO_VALUE_SCAN = {("review", "secret_patterns")}
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_GITLAB_TOKEN = re.compile(r"^(glpat|gloas|glrt|gldt|glft|glsoat)-[0-9A-Za-z_-]{16,}$")

# environment variables the hub reads, with what to put in them
GITLAB_CLIENT_SECRET = "GITLAB_CLIENT_SECRET"
JUPYTERHUB_CRYPT_KEY = "JUPYTERHUB_CRYPT_KEY"
JUPYTERHUB_DB_PASSWORD = "JUPYTERHUB_DB_PASSWORD"
PROMOTION_DB_PASSWORD = "JUPYTERHUB_DS_PROMOTION_DB_PASSWORD"
PROMOTION_GITLAB_TOKEN = "JUPYTERHUB_DS_PROMOTION_GITLAB_TOKEN"


def is_secret_key(key):
    return isinstance(key, str) and key not in NOT_SECRET_KEYS and bool(SECRET_KEY.search(key))


def env_var_for(path):
    """The environment variable that should hold the secret found at ``path``."""
    key = str(path[-1]).lower()
    section = path[0] if path else ""
    if section == "profiles" and "environment" in path:
        return str(path[-1])
    if "crypt" in key:
        return JUPYTERHUB_CRYPT_KEY
    if "cookie" in key:
        return "JUPYTERHUB_COOKIE_SECRET"
    if "proxy" in key:
        return "CONFIGPROXY_AUTH_TOKEN"
    if section == "gitlab":
        return GITLAB_CLIENT_SECRET
    if section == "hub":
        return JUPYTERHUB_DB_PASSWORD
    if section == "promotion":
        return PROMOTION_DB_PASSWORD if ("passw" in key or "database" in key) else PROMOTION_GITLAB_TOKEN
    return "JUPYTERHUB_DS_" + "_".join(str(p).upper() for p in path if not isinstance(p, int))


def _fix(path):
    var = env_var_for(path)
    if path[0] == "profiles" and "environment" in path:
        return (
            f"secrets must not be in the YAML; set {var} in the hub's environment and pass it "
            "to containers from a jupyterhub_config.d/*.py file"
        )
    return f"secrets must not be in the YAML; remove it and set env {var} instead"


def _value_fix(path):
    if path and is_secret_key(path[-1]):
        return _fix(path)
    return "secrets must not be in the YAML; remove it (the hub takes secrets only from its environment)"


def url_password(url):
    """The password inside ``scheme://user:password@host/...``, or None."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _scan(value, path, problems):
    if path in _NO_VALUE_SCAN:
        return
    if isinstance(value, dict):
        for key, sub in value.items():
            if is_secret_key(key):
                problems.append(Problem(path + (key,), f"looks like a secret; {_fix(path + (key,))}"))
            else:
                _scan(sub, path + (key,), problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _scan(item, path + (index,), problems)
    elif isinstance(value, str):
        if _PRIVATE_KEY.search(value):
            problems.append(Problem(path, f"holds a private key; {_value_fix(path)}"))
        elif _GITLAB_TOKEN.match(value.strip()):
            problems.append(Problem(path, f"holds a GitLab token; {_value_fix(path)}"))
        elif "://" in value and url_password(value):
            problems.append(
                Problem(path, f"the URL contains a password; remove it from the URL and set env {env_var_for(path)}")
            )


def yaml_secret_problems(data):
    problems = []
    _scan(data, (), problems)
    return problems


def _needs_db_password(url):
    parts = urlsplit(url)
    return not parts.scheme.startswith("sqlite") and bool(parts.username)


def required_env(config):
    """``{VAR: why}`` for every environment variable the hub needs with this (valid,
    defaults-filled) config."""
    need = {
        GITLAB_CLIENT_SECRET: "the secret of the GitLab OAuth application gitlab.client_id",
        JUPYTERHUB_CRYPT_KEY: "32 random bytes in hex that encrypt GitLab tokens; make one with openssl rand -hex 32",
    }
    if _needs_db_password(config["hub"]["db_url"]):
        need[JUPYTERHUB_DB_PASSWORD] = "the password of the database user in hub.db_url"
    promotion = config["promotion"]
    if promotion["projects"]:
        need[PROMOTION_GITLAB_TOKEN] = "a GitLab token with api scope that the promotion service pushes with"
        if _needs_db_password(promotion["database_url"]):
            need[PROMOTION_DB_PASSWORD] = "the password of the database user in promotion.database_url"
    return need


def missing_env_problems(config, env):
    return [
        Problem((ENV, var), f"not set; export {var} ({why})")
        for var, why in required_env(config).items()
        if not env.get(var)
    ]
