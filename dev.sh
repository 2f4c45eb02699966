#!/usr/bin/env bash
# jupyterhub-ds developer entry point. A newcomer on a fresh Debian machine (as root) runs:
#   ./dev.sh demo    install what is missing, build the images, start the GitLab stand-in and the hub
#   ./dev.sh test    install what is missing, build the images, lint, run the whole test suite
# Each step is idempotent and skips what is already in place, so re-runs are quick.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$ROOT/.work"            # everything this script creates lives in the clone (rebuildable)
VENV="$ROOT/.venv"
NODE_PREFIX="$WORK/node"
mkdir -p "$WORK"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'dev.sh: %s\n' "$*" >&2; exit 1; }

need_root_for() {
  [ "$(id -u)" = 0 ] || die "$1 needs root (apt-get/dockerd); run: sudo $0 ${CMD:-}"
}

apt_install_missing() {
  # command-or-check -> Debian package
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v git >/dev/null || missing+=(git)
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  command -v python3 >/dev/null || missing+=(python3)
  python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  [ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
  command -v ip >/dev/null || missing+=(iproute2)
  # the Swarm tests: a local registry for the images, nsenter/unshare for the engines' namespaces
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v nsenter >/dev/null || missing+=(util-linux)
  # PostgreSQL for the hub database and promotion store tests (the tests start their own cluster)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  if [ "${#missing[@]}" -gt 0 ]; then
    need_root_for "installing ${missing[*]}"
    say "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$WORK/apt.log" 2>&1 \
      || { tail -n 30 "$WORK/apt.log"; die "apt-get install failed (log: $WORK/apt.log)"; }
  fi
}

python_env() {
  local stamp="$VENV/.jupyterhub-ds-installed" want
  want="$(sha256sum "$ROOT/setup.cfg" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  say "Python environment ($VENV)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip setuptools wheel
  "$VENV/bin/pip" install -q -e "$ROOT[hub,singleuser,test]"
  echo "$want" >"$stamp"
}

node_recent_enough() {
  # the JupyterLab 4.6 extension builder needs Node.js ^20.19 or >= 22.12
  node -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)'
}

node_tools() {
  export PATH="$NODE_PREFIX/node_modules/.bin:$PATH"
  if ! node_recent_enough; then
    # Debian 12 ships Node.js 18: take a newer one from the npm registry (the `node`
    # package installs the platform's binary package from the same registry)
    say "Node.js 22 (npm package node@22; $(node --version) is too old for the JupyterLab builder)"
    npm install --silent --no-audit --no-fund --prefix "$NODE_PREFIX" node@22
    hash -r
    node_recent_enough || die "Node.js $(node --version) is still too old after installing node@22"
  fi
  if [ ! -x "$NODE_PREFIX/node_modules/.bin/configurable-http-proxy" ]; then
    say "configurable-http-proxy (npm)"
    npm install --silent --no-audit --no-fund --prefix "$NODE_PREFIX" configurable-http-proxy@^4
  fi
}

docker_engine() {
  if docker info >/dev/null 2>&1; then
    return
  fi
  need_root_for "starting dockerd"
  say "starting dockerd (log: $WORK/dockerd.log)"
  nohup dockerd >"$WORK/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  tail -n 30 "$WORK/dockerd.log" >&2
  die "dockerd did not answer within 60 s (log: $WORK/dockerd.log)"
}

labextension() {
  # the prebuilt JupyterLab frontend must exist before the image's wheel is built
  say "JupyterLab frontend @jupyterhub-ds/review"
  VENV="$VENV" "$ROOT/extensions/labextension/build.sh" --if-needed
}

images() {
  # base, single-user and data-science (singleuser-scipy) images; cached when nothing changed
  say "images"
  "$VENV/bin/jupyterhub-ds" images build
}

# The tree is formatted by `ruff format` (the reformatting commit is in .git-blame-ignore-revs);
# JUPYTERHUB_DS_FORMAT_CHECK=0 skips the format check, e.g. while a branch is being rebased.
FORMAT_CHECK="${JUPYTERHUB_DS_FORMAT_CHECK:-1}"

lint() {
  # fails the run (set -e) on any finding: ruff's settings are in pyproject.toml
  say "lint (ruff)"
  "$VENV/bin/ruff" check "$ROOT"
  if [ "$FORMAT_CHECK" = 1 ]; then
    "$VENV/bin/ruff" format --check "$ROOT"
  fi
}

promtool_tool() {
  # promtool checks the Prometheus alert rules (tests/unit/test_alert_rules.py). Debian ships it
  # only inside the prometheus package, whose installation would also start a Prometheus
  # server: take the one binary out of the .deb into .work/prometheus instead.
  local dest="$WORK/prometheus"
  command -v promtool >/dev/null && return
  [ -x "$dest/usr/bin/promtool" ] && return
  say "promtool (unpacked from Debian's prometheus package into $dest)"
  mkdir -p "$dest/deb"
  if ! (cd "$dest/deb" && apt-get download prometheus >"$WORK/apt.log" 2>&1); then
    need_root_for "apt-get update (to download the prometheus package for promtool)"
    apt-get update -qq
    (cd "$dest/deb" && apt-get download prometheus >"$WORK/apt.log" 2>&1) \
      || { tail -n 20 "$WORK/apt.log"; die "apt-get download prometheus failed (log: $WORK/apt.log)"; }
  fi
  dpkg-deb -x "$dest"/deb/prometheus_*.deb "$dest"
  rm -rf "$dest/deb"
  [ -x "$dest/usr/bin/promtool" ] || die "no usr/bin/promtool in Debian's prometheus package"
}

test_services() {
  # What the PostgreSQL and Swarm tests start themselves (a PostgreSQL cluster on loopback,
  # three dockerd in network namespaces, docker-registry) needs: the packages above, the
  # postgres user, network namespaces. Leftovers of a killed Swarm test run (its engines,
  # namespaces, veths, mounts, data) are removed here; a second run finds nothing to do.
  id postgres >/dev/null 2>&1 || die "the postgres user is missing; reinstall the postgresql package"
  local probe="jds-devsh-probe-$$"
  ip netns add "$probe" 2>/dev/null && ip netns del "$probe" \
    || die "cannot create network namespaces (ip netns add); the Swarm tests need them (root)"
  [ -d /run/jds-swarm ] || return 0
  say "removing leftovers of killed Swarm test runs"
  (cd "$ROOT" && "$VENV/bin/python" -c \
    'from tests.fixtures.netns_swarm import sweep_leftovers; print("swept:", " ".join(sweep_leftovers()) or "nothing")')
}

bootstrap() {
  apt_install_missing
  python_env
  node_tools
  labextension
  docker_engine
  images
}

CMD="${1:-}"
shift || true
case "$CMD" in
  test)
    apt_install_missing
    python_env
    lint  # seconds: before the images are built
    bootstrap
    test_services
    promtool_tool
    say "tests"
    cd "$ROOT"
    # no arguments: pyproject.toml's testpaths (tests/); ./dev.sh test tests/security runs just those
    exec "$VENV/bin/pytest" "$@"
    ;;
  demo)
    bootstrap
    cd "$ROOT"
    exec "$VENV/bin/python" -m tests.demo "$@"   # --reset: start from a clean state
    ;;
  bootstrap)
    bootstrap
    ;;
  lint)
    python_env
    lint
    ;;
  *)
    echo "usage: $0 demo | test [pytest args] | lint | bootstrap" >&2
    exit 2
    ;;
esac
