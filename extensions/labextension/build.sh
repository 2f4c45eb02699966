#!/usr/bin/env bash
# Build the prebuilt JupyterLab 4 / Notebook 7 extension @jupyterhub-ds/review from this
# folder's TypeScript into extensions/review/labextension/ (shipped in the wheel under
# share/jupyter/labextensions/@jupyterhub-ds/review/; that output is not committed).
#
#   extensions/labextension/build.sh               install npm deps (npm ci) and build
#   extensions/labextension/build.sh --if-needed   do nothing when sources are unchanged since
#                                                  the last successful build (for dev.sh / CI)
#
# Needs: node >= 20.19 and npm on PATH; the project venv (jupyterlab 4.6, which brings
# jupyter-builder) at $VENV (default: <repo>/.venv). npm uses its configured registry.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
OUT="$ROOT/extensions/review/labextension"
STAMP="$OUT/.build-stamp"

die() { printf 'labextension build: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null || die "node is not on PATH; install Node.js >= 20.19 (Debian: apt-get install nodejs npm)"
# @jupyter/builder (the rspack builder JupyterLab 4.6 declares) needs node ^20.19 || >=22.12
node -e 'const [a, b] = process.versions.node.split(".").map(Number);
  process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)' \
  || die "Node.js $(node --version) is too old: the JupyterLab 4.6 builder needs ^20.19 or >= 22.12
  (Debian 12's nodejs package is 18; use Debian 13's, or NodeSource's node 20/22)"
command -v npm >/dev/null || die "npm is not on PATH; install it (Debian: apt-get install npm)"
[ -x "$VENV/bin/jupyter" ] || die "no jupyter in $VENV/bin; create the venv first (./dev.sh does) or set VENV=/path/to/venv"
# jupyter labextension build runs `jupyter-builder`, which it looks up on PATH
export PATH="$VENV/bin:$PATH"

cd "$HERE"
sources_hash() {
  { node --version
    find package.json package-lock.json tsconfig.json src style -type f -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
}
want="$(sources_hash)"

if [ "${1:-}" = "--if-needed" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
   && [ -f "$OUT/package.json" ]; then
  echo "labextension up to date ($OUT)"
  exit 0
fi

lock_hash="$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f node_modules/.jhds-lock ] || [ "$(cat node_modules/.jhds-lock)" != "$lock_hash" ]; then
  echo "==> npm ci (extensions/labextension)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.jhds-lock
fi

echo "==> tsc"
rm -rf lib tsconfig.tsbuildinfo
npx --no-install tsc -b
echo "==> jupyter labextension build -> $OUT"
rm -rf "$OUT"
jupyter labextension build .
[ -f "$OUT/package.json" ] || die "the build finished but $OUT/package.json is missing"
echo "$want" > "$STAMP"
echo "built @jupyterhub-ds/review into $OUT"
