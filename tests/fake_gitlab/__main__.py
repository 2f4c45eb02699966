"""``python -m tests.fake_gitlab --seed FILE``: run the stand-in until SIGTERM/SIGINT.

Prints exactly one line ``ready <base URL>`` on stdout once it accepts requests. Logs go to
stderr and never contain tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path

from tornado.httpserver import HTTPServer

from .app import make_app
from .base import Context
from .model import Store
from .repos import Repos
from .seed import SeedError, apply_seed, load_seed_file
from .tokens import TokenStore


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_gitlab", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback by default)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--seed", required=True, help="YAML/JSON seed file (see tests/fake_gitlab/README.md)")
    parser.add_argument("--data-dir", help="where bare repositories live (default: a temporary dir, removed on exit)")
    parser.add_argument("--token-expires-in", type=int, default=7200, help="OAuth access token lifetime, seconds")
    parser.add_argument(
        "--api-latency",
        type=float,
        default=0.0,
        metavar="MS",
        help="milliseconds every API and OAuth token answer waits first, as a GitLab across a network (default 0)",
    )
    parser.add_argument("--external-url", help="base URL clients use (default http://HOST:PORT)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="fake-gitlab-"))
    try:
        seed = load_seed_file(args.seed)
        sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
        sock.listen(128)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        base_url = (args.external_url or f"http://{host}:{port}").rstrip("/")
        ctx = Context(Store(), TokenStore(args.token_expires_in), Repos(data_dir / "repositories"), base_url)
        ctx.api_latency = max(0.0, args.api_latency) / 1000
        await apply_seed(seed, ctx.store, ctx.tokens, ctx.repos)
        server = HTTPServer(make_app(ctx), xheaders=False, max_body_size=512 * 1024 * 1024)
        server.add_sockets([sock])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"ready {base_url}", flush=True)
        logging.getLogger("fake_gitlab").info("serving %s from %s", base_url, data_dir)
        await stop.wait()
        server.stop()
        await asyncio.wait_for(server.close_all_connections(), 5)
        return 0
    except (SeedError, OSError, KeyError) as e:
        print(f"fake_gitlab: cannot start: {e}", file=sys.stderr)
        return 2
    finally:
        if not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


SECRET_PARAMS = re.compile(r"((?:private_token|access_token|refresh_token|code|client_secret)=)[^&\s'\"]+")


class RedactTokens(logging.Filter):
    """Our access log never prints query strings, but tornado's error reports include the request
    URI; blank out anything that looks like a credential before it reaches stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SECRET_PARAMS.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def main(argv=None) -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="[fake_gitlab %(levelname).1s %(asctime)s] %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactTokens())
    return asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
