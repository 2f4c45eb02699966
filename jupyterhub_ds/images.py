"""``jupyterhub-ds images build``: the air-gapped base image, the single-user image and the
data-science image layered on it.

Three images, built in order, each skipped when nothing it is made from has changed:

1. ``jupyterhub-ds/base:<suite>``: debootstrap from a Debian mirror, then ``docker import``.
   No registry is ever contacted. Skipped with ``--base-image`` (connected sites).
2. ``jupyterhub-ds/singleuser:<version>`` and ``:latest`` from ``images/singleuser/Dockerfile``
   on that base, with this project's wheel built from the local tree.
3. ``jupyterhub-ds/singleuser-scipy:<version>`` and ``:latest`` from ``images/scipy/Dockerfile``
   on that single-user image: its pinned scientific stack. Skipped with ``--no-scipy``.

Every image built is checked against the package policy before it is tagged (its licences;
with ``--config ADMIN.yaml`` the admin YAML's whole ``packages:`` section, on cached images
too): the check of ``jupyterhub-ds packages check`` (``jupyterhub_ds.packages``).

"Nothing changed" is decided by an input hash stored as the image label
``org.jupyterhub-ds.input-hash``. The project enters that hash by the content of its
source files, so an unchanged tree is not even built into a wheel (a wheel's bytes would
differ anyway: zip timestamps).

Pure inputs and names live in ``image_inputs``; running commands and asking the engine
(through the docker CLI, see why there) in ``image_commands``.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from urllib.parse import urlsplit

from ._version import __version__
from .image_commands import BuildError, check_engine, docker, image_labels, image_size, say, stream
from .image_inputs import (
    BASE_PACKAGES,
    BASE_REPO,
    DEFAULT_INDEX_URL,
    DEFAULT_MIRROR,
    DEFAULT_SUITE,
    HOST_CA_BUNDLE,
    LABEL_BASE,
    LABEL_HASH,
    LABEL_INDEX,
    LABEL_PACKAGES,
    LABEL_VERSION,
    SCIPY_REPO,
    SINGLEUSER_REPO,
    SOURCE_IGNORE,
    format_report,
    input_hash,
    lock_conflicts,
    lock_pins,
    lock_text,
    packages_label,
    requirements_from_metadata,
    split_pem,
    tree_content_hash,
)
from .sizes import format_size

# Bounds for every external step, so a hung mirror or engine ends with a message.
DEBOOTSTRAP_TIMEOUT = 30 * 60
BUILD_TIMEOUT = 60 * 60


def configured_index_url():
    """pip's configured global index (env PIP_INDEX_URL, then pip config), else PyPI."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    res = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    value = res.stdout.strip() if res.returncode == 0 else ""
    return value or DEFAULT_INDEX_URL


def source_tree(given=None):
    """The project checkout to build from: ``given``, else the one this module was
    imported from. It needs setup.cfg and images/singleuser/Dockerfile."""
    root = pathlib.Path(given).resolve() if given else pathlib.Path(__file__).resolve().parent.parent
    if not (root / "setup.cfg").is_file() or not (root / "images" / "singleuser" / "Dockerfile").is_file():
        raise BuildError(
            f"images build needs the project source tree (setup.cfg, images/), not found at {root}: "
            "run it from a git clone installed with `pip install -e .` or pass --source DIR"
        )
    return root


# ---------------------------------------------------------------- steps


def base_hash(mirror, suite, script):
    return input_hash(
        {
            "mirror": mirror,
            "suite": suite,
            "packages": ",".join(BASE_PACKAGES),
            "script": script.read_bytes(),
        }
    )


def _unmount_below(path):
    """Unmount what debootstrap left mounted inside a failed rootfs (proc, sys)."""
    root = str(path.resolve())
    with open("/proc/mounts") as f:
        points = [line.split()[1] for line in f if line.split()[1].startswith(root + "/")]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def build_base(opts, src):
    """Build (or find cached) the debootstrap base. Returns (image ref, status)."""
    if opts.base_image:
        return opts.base_image, "external"
    ref = f"{BASE_REPO}:{opts.suite}"
    script = src / "images" / "base" / "build-rootfs.sh"
    wanted = base_hash(opts.mirror, opts.suite, script)
    found = image_labels(ref)
    if found and found[0].get(LABEL_HASH) == wanted:
        return ref, "cached"
    if shutil.which("debootstrap") is None:
        raise BuildError("debootstrap not found: apt-get install debootstrap (or pass --base-image IMAGE)")
    if os.geteuid() != 0:
        raise BuildError("the base image needs debootstrap, which needs root: run as root (or pass --base-image IMAGE)")
    work = pathlib.Path(opts.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    rootfs = pathlib.Path(tempfile.mkdtemp(prefix="rootfs-", dir=work))
    try:
        say("base", f"debootstrap {opts.suite} from {opts.mirror} into {rootfs}")
        code, tail = stream(
            [
                "sh",
                str(script),
                opts.suite,
                str(rootfs),
                opts.mirror,
                ",".join(BASE_PACKAGES),
                str(work / "debootstrap-cache"),
            ],
            "base",
            DEBOOTSTRAP_TIMEOUT,
        )
        if code != 0:
            raise BuildError(
                f"debootstrap of {opts.suite} from {opts.mirror} failed (exit {code}); check the "
                f"mirror URL and suite name (--mirror, --suite). Last lines:\n  " + "\n  ".join(tail)
            )
        say("base", f"docker import -> {ref}")
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        changes = [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            f"LABEL {LABEL_HASH}={wanted}",
            f"LABEL {LABEL_VERSION}={__version__}",
            'CMD ["/bin/bash"]',
        ]
        args = [a for c in changes for a in ("--change", c)]
        code, tail = stream(["docker", "import", *args, "-", ref], "base", BUILD_TIMEOUT, stdin=tar.stdout)
        tar.stdout.close()
        if tar.wait() != 0 or code != 0:
            raise BuildError(
                f"docker import of the base rootfs failed (tar exit {tar.returncode}, "
                f"docker exit {code}): " + " / ".join(tail)
            )
    finally:
        _unmount_below(rootfs)
        shutil.rmtree(rootfs, ignore_errors=True)
    return ref, "built"


_COPY_IGNORE = shutil.ignore_patterns(*SOURCE_IGNORE)


def build_wheel(src, out_dir):
    """Build this project's wheel from a clean copy of the tree (no stale build/ files)."""
    with tempfile.TemporaryDirectory(prefix="jupyterhub-ds-src-") as tmp:
        copy = pathlib.Path(tmp) / "src"
        shutil.copytree(src, copy, ignore=_COPY_IGNORE)
        env = dict(os.environ, SOURCE_DATE_EPOCH="315532800")
        code, tail = stream(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out_dir), str(copy)],
            "wheel",
            BUILD_TIMEOUT,
            env=env,
        )
    wheels = sorted(pathlib.Path(out_dir).glob("jupyterhub_ds-*.whl"))
    if code != 0 or len(wheels) != 1:
        raise BuildError(
            f"building the jupyterhub-ds wheel from {src} failed (exit {code}): "
            "run `pip wheel --no-deps .` there to see why. " + " / ".join(tail)
        )
    return wheels[0]


def _wheel_metadata(wheel):
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return zf.read(name).decode()


def lock_path(src):
    return src / "images" / "singleuser" / "requirements.lock"


def relocks(opts, image):
    """Whether this build resolves ``image``'s packages anew: ``--update-lock`` (all images)
    or ``--update-lock=scipy`` (that one only)."""
    return opts.update_lock in ("all", image)


def lock_in_force(opts, src):
    """The constraints the build uses: the lock file, or nothing with --update-lock."""
    path = lock_path(src)
    return b"" if relocks(opts, "singleuser") or not path.is_file() else path.read_bytes()


def singleuser_plan(opts, src, base_ref, lock):
    """What the single-user image is made from: (ref, input hash, existing image or None).

    The project enters by the content of its source files (see ``SOURCE_IGNORE``), so an
    unchanged tree needs no wheel build at all; the wheel is built from that same content.
    """
    ref = f"{SINGLEUSER_REPO}:{__version__}"
    base = image_labels(base_ref)
    if base is None:
        raise BuildError(
            f"base image {base_ref} is not in the local engine: "
            f"`docker pull {base_ref}` on a connected site, or drop --base-image"
        )
    recipe = src / "images" / "singleuser"
    ca = pathlib.Path(opts.ca_bundle).read_bytes() if opts.ca_bundle else b""
    if ca and not split_pem(ca):
        raise BuildError(f"--ca-bundle {opts.ca_bundle}: no PEM certificate in it (BEGIN CERTIFICATE)")
    wanted = input_hash(
        {
            "base": base[1],
            "dockerfile": (recipe / "Dockerfile").read_bytes(),
            "record": (recipe / "record_packages.py").read_bytes(),
            "source": tree_content_hash(src),
            "jupyter": tree_content_hash(recipe / "jupyter", ignore=()),
            "ca": ca,
            "index": opts.index_url,
            "version": __version__,
            "lock": lock,
        }
    )
    found = image_labels(ref)
    if found and found[0].get(LABEL_HASH) == wanted:
        return ref, wanted, found, True
    return ref, wanted, found, False


def read_packages(built):
    """The ``pip list --format=freeze`` text a build recorded in the image ``built``."""
    freeze = docker(
        "run", "--rm", "--network", "none", "--entrypoint", "cat", built, "/opt/jupyterhub-ds/packages.txt", timeout=120
    )
    if freeze.returncode != 0:
        raise BuildError(f"could not read the package list from the built image {built}: {freeze.stderr.strip()}")
    return freeze.stdout


def label_and_tag(built, labels, refs, found, what):
    """Give the image ``built`` its labels and the tags ``refs``; drop ``found``, the image
    the first tag named before (None if none)."""
    label_args = [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
    tags = [a for ref in refs for a in ("-t", ref)]
    res = subprocess.run(
        ["docker", "build", "-q", *label_args, *tags, "-"],
        input=f"FROM {built}\n",
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, DOCKER_BUILDKIT="0"),
    )
    if res.returncode != 0:
        raise BuildError(f"labelling {what} failed: {res.stderr.strip()}")
    if found:
        # The image this build replaced is untagged now; drop it and its untagged parents
        # so rebuilds do not pile up. It fails harmlessly while a container still uses it.
        docker("rmi", found[1], timeout=120)


def docker_build(ctx, name, build_args, *, what, index, conflict, update):
    """``docker build`` of the context folder ``ctx``; -> the image id. A failure says what pip
    could not reach (``index``), what a version conflict means and the ``--update-lock`` that
    re-resolves it, then docker's last lines."""
    iidfile = ctx.parent / f"{ctx.name}.iid"
    args = [arg for key, value in build_args.items() for arg in ("--build-arg", f"{key}={value}")]
    # The classic builder prints plain lines we can prefix; it is the default of
    # Debian's docker.io 20.10 and needs no buildx plugin.
    code, tail = stream(
        ["docker", "build", "--iidfile", str(iidfile), *args, str(ctx)],
        name,
        BUILD_TIMEOUT,
        env=dict(os.environ, DOCKER_BUILDKIT="0"),
    )
    if code != 0:
        raise BuildError(
            f"docker build of {what} failed (exit {code}). If pip could not reach {index}, check --index-url and "
            f"--ca-bundle (a proxy CA); if it found conflicting versions, {conflict}: re-resolve them with "
            f"`jupyterhub-ds images build {update}`. Last lines:\n  " + "\n  ".join(tail)
        )
    built = iidfile.read_text().strip()
    iidfile.unlink()
    return built


def build_singleuser(opts, src, base_ref, wheel, ref, wanted, found, lock):
    """Build the single-user image from ``wheel``; tag it ``ref`` and latest.

    With --update-lock (``lock`` empty) the resolved versions become the new lock file,
    and the image is labelled with the hash it has under that lock (it satisfies it).
    """
    recipe = src / "images" / "singleuser"
    ca = pathlib.Path(opts.ca_bundle).read_bytes() if opts.ca_bundle else b""
    requirements = "\n".join(requirements_from_metadata(_wheel_metadata(wheel))) + "\n"
    with tempfile.TemporaryDirectory(prefix="jupyterhub-ds-context-") as ctx:
        ctx = pathlib.Path(ctx)
        shutil.copy(recipe / "Dockerfile", ctx / "Dockerfile")
        shutil.copy(recipe / "record_packages.py", ctx / "record_packages.py")
        shutil.copytree(recipe / "jupyter", ctx / "jupyter")
        (ctx / "requirements.txt").write_text(requirements)
        (ctx / "requirements.lock").write_bytes(lock)
        (ctx / "ca").mkdir()
        for i, cert in enumerate(split_pem(ca)):
            (ctx / "ca" / f"extra-{i:04d}.crt").write_bytes(cert)
        (ctx / "dist").mkdir()
        shutil.copy(wheel, ctx / "dist" / wheel.name)
        built = docker_build(
            ctx,
            "singleuser",
            {"BASE_IMAGE": base_ref, "PIP_INDEX_URL": opts.index_url},
            what="the single-user image",
            index=opts.index_url,
            conflict="the dependencies changed",
            update="--update-lock",
        )
    check_packages_of(built, opts.policy, "the single-user image")  # before it is tagged

    freeze = read_packages(built)
    if relocks(opts, "singleuser"):
        lock_path(src).write_text(lock_text(freeze, __version__))
        say("singleuser", f"wrote {lock_path(src)}")
        wanted = singleuser_plan(opts, src, base_ref, lock_path(src).read_bytes())[1]
    labels = {
        LABEL_HASH: wanted,
        LABEL_VERSION: __version__,
        LABEL_PACKAGES: packages_label(freeze),
        LABEL_BASE: base_ref,
        LABEL_INDEX: opts.index_url,
    }
    label_and_tag(built, labels, [ref, f"{SINGLEUSER_REPO}:latest"], found, "the single-user image")
    return ref, "built", _size(ref)


def _size(ref):
    size = image_size(ref)
    return format_size(size, decimal=True) if size is not None else ""


def check_packages_of(image, policy, what, ref=None):
    """The package policy's check of an image (``jupyterhub_ds.packages``, the one
    `jupyterhub-ds packages check` and promotion clean runs make): a BuildError naming every
    problem, after removing ``image`` when it is a fresh build nobody tagged yet (``ref`` None)."""
    from .packages.cli import check_image
    from .packages.inventory import InventoryError

    t0 = time.monotonic()
    try:
        installed, problems = check_image(image, policy)
    except InventoryError as e:
        raise BuildError(f"the package check of {what} could not run: {e}") from None
    if problems:
        if ref is None:
            docker("rmi", image, timeout=120)
        raise BuildError(
            f"{what} holds {len(problems)} thing(s) outside the package policy"
            f"{'' if ref is None else ' (' + ref + ')'}; it was {'not tagged' if ref is None else 'kept'}:\n  "
            + "\n  ".join(f"refused: {p}" for p in problems)
        )
    say(
        "packages",
        f"{ref or what}: {len(installed)} Python distributions within the package policy "
        f"({time.monotonic() - t0:.1f} s)",
    )


# ---------------------------------------------------------------- the data-science image


def scipy_recipe(src):
    recipe = src / "images" / "scipy"
    if not (recipe / "Dockerfile").is_file() or not (recipe / "requirements.txt").is_file():
        raise BuildError(
            f"the data-science image's recipe (Dockerfile, requirements.txt) is not in {recipe}: "
            "build from a complete checkout (--source DIR), or skip that image with --no-scipy"
        )
    return recipe


def scipy_lock_in_force(opts, src):
    """The data-science image's constraints: its lock, or nothing when it is re-resolved."""
    path = scipy_recipe(src) / "requirements.lock"
    return b"" if relocks(opts, "scipy") or not path.is_file() else path.read_bytes()


def scipy_plan(opts, src, singleuser_ref, lock):
    """What the data-science image is made from: (ref, input hash, existing image or None,
    cached?, the single-user image's (labels, id)).

    Its inputs are the single-user image's id (which covers its packages, pip config and CA
    store), the Dockerfile, the requirements and the lock. A lock that pins a package of the
    single-user image to another version is refused here, before any download.
    """
    ref = f"{SCIPY_REPO}:{__version__}"
    base = image_labels(singleuser_ref)
    if base is None:
        raise BuildError(
            f"the single-user image {singleuser_ref} is not in the local engine: "
            "build it first (`jupyterhub-ds images build`)"
        )
    recipe = scipy_recipe(src)
    where = recipe / "requirements.lock"
    try:
        pins = lock_pins(lock.decode(), where=str(where))
        installed = lock_pins(base[0].get(LABEL_PACKAGES, "").replace(",", "\n"), where=f"{singleuser_ref} label")
    except ValueError as e:
        raise BuildError(str(e)) from None
    differ = lock_conflicts(pins, installed)
    if differ:
        shown = ", ".join(f"{n}=={a} (the single-user image has {b})" for n, (a, b) in list(differ.items())[:5])
        more = f" and {len(differ) - 5} more" if len(differ) > 5 else ""
        raise BuildError(
            f"{where} pins {shown}{more}: the single-user image's packages changed since the "
            "data-science lock was made. Re-resolve it with `jupyterhub-ds images build "
            "--update-lock=scipy` (or skip that image with --no-scipy)"
        )
    wanted = input_hash(
        {
            "base": base[1],
            "dockerfile": (recipe / "Dockerfile").read_bytes(),
            "requirements": (recipe / "requirements.txt").read_bytes(),
            "lock": lock,
            "version": __version__,
        }
    )
    found = image_labels(ref)
    return ref, wanted, found, bool(found and found[0].get(LABEL_HASH) == wanted), base


def build_scipy(opts, src, singleuser_ref, base, ref, wanted, found, lock):
    """Build the data-science image on the single-user image (by id); tag it ``ref`` and latest.

    With --update-lock or --update-lock=scipy (``lock`` empty) the resolved versions become
    the new images/scipy/requirements.lock.
    """
    recipe = scipy_recipe(src)
    with tempfile.TemporaryDirectory(prefix="jupyterhub-ds-context-") as ctx:
        ctx = pathlib.Path(ctx)
        shutil.copy(recipe / "Dockerfile", ctx / "Dockerfile")
        shutil.copy(recipe / "requirements.txt", ctx / "requirements.txt")
        (ctx / "requirements.lock").write_bytes(lock)
        index = base[0].get(LABEL_INDEX, "the single-user image's index")
        built = docker_build(
            ctx,
            "singleuser-scipy",
            {"BASE_IMAGE": base[1]},
            what="the data-science image",
            index=f"{index} (the single-user image's /etc/pip.conf)",
            conflict="images/scipy/requirements.txt and the locks disagree",
            update="--update-lock=scipy",
        )
    check_packages_of(built, opts.policy, "the data-science image")  # before it is tagged

    freeze = read_packages(built)
    if relocks(opts, "scipy"):
        path = recipe / "requirements.lock"
        path.write_text(lock_text(freeze, __version__, image="data-science image", update="--update-lock=scipy"))
        say("singleuser-scipy", f"wrote {path}")
        wanted = scipy_plan(opts, src, singleuser_ref, path.read_bytes())[1]
    labels = {
        LABEL_HASH: wanted,
        LABEL_VERSION: __version__,
        LABEL_PACKAGES: packages_label(freeze),
        LABEL_BASE: singleuser_ref,
        LABEL_INDEX: base[0].get(LABEL_INDEX, ""),
    }
    label_and_tag(built, labels, [ref, f"{SCIPY_REPO}:latest"], found, "the data-science image")
    return ref, "built", _size(ref)


# ---------------------------------------------------------------- CLI


def add_arguments(parser):
    sub = parser.add_subparsers(dest="images_command", metavar="ACTION")
    b = sub.add_parser(
        "build",
        help="build the base, single-user and data-science images (incremental)",
        description="Build jupyterhub-ds/base:<suite> with debootstrap, "
        "jupyterhub-ds/singleuser:<version> on it and jupyterhub-ds/singleuser-scipy:<version> "
        "on that. Re-running with no change is a no-op.",
    )
    b.add_argument("--mirror", default=DEFAULT_MIRROR, help="Debian mirror for debootstrap (default: %(default)s)")
    b.add_argument("--suite", default=DEFAULT_SUITE, help="Debian suite (default: %(default)s)")
    b.add_argument(
        "--ca-bundle",
        default=None,
        metavar="PATH",
        help=f"extra CA bundle (PEM) trusted inside the image, e.g. a proxy CA "
        f"(default: {HOST_CA_BUNDLE} when present; '' for none)",
    )
    b.add_argument(
        "--index-url",
        default=None,
        metavar="URL",
        help=f"the only package index the image uses (default: pip's global.index-url, else {DEFAULT_INDEX_URL})",
    )
    b.add_argument(
        "--base-image",
        default=None,
        metavar="IMAGE",
        help="use this local image as the base instead of debootstrap (connected sites)",
    )
    b.add_argument(
        "--update-lock",
        nargs="?",
        const="all",
        choices=("all", "scipy"),
        default=None,
        metavar="scipy",
        help="resolve the third-party packages anew (ignore images/singleuser/requirements.lock "
        "and images/scipy/requirements.lock) and write the results to those files; "
        "--update-lock=scipy re-resolves only the data-science image's lock, against the "
        "single-user image as it is",
    )
    b.add_argument(
        "--no-scipy",
        action="store_true",
        help=f"do not build the data-science image {SCIPY_REPO} (quicker builds; an existing one is left as it is)",
    )
    b.add_argument(
        "--source",
        default=None,
        metavar="DIR",
        help="the project checkout to build from (default: the one jupyterhub-ds runs from)",
    )
    b.add_argument(
        "--work-dir",
        default=None,
        metavar="DIR",
        help="where debootstrap's rootfs and package cache go (default: <source>/.work/images)",
    )
    b.add_argument(
        "--config",
        default=None,
        metavar="ADMIN.yaml",
        help="the admin YAML whose packages: policy the images must meet: checked on every image "
        "built, before it is tagged, and on the ones found current (default: the refused licence "
        "words only, on images built)",
    )


def _resolve(opts, src):
    if opts.ca_bundle is None:
        opts.ca_bundle = HOST_CA_BUNDLE if os.path.isfile(HOST_CA_BUNDLE) else ""
    if opts.ca_bundle and not os.path.isfile(opts.ca_bundle):
        raise BuildError(f"--ca-bundle {opts.ca_bundle}: no such file; give a PEM file or '' for none")
    opts.index_url = (opts.index_url or configured_index_url()).rstrip("/")
    if urlsplit(opts.index_url).scheme not in ("http", "https"):
        raise BuildError(f"--index-url {opts.index_url}: must be an http(s) URL the image can reach")
    opts.work_dir = opts.work_dir or str(src / ".work" / "images")
    if opts.no_scipy and opts.update_lock == "scipy":
        raise BuildError(
            "--update-lock=scipy re-resolves the data-science image's lock, which --no-scipy "
            "does not build: drop one of the two"
        )


def run(args):
    if getattr(args, "images_command", None) != "build":
        print("usage: jupyterhub-ds images build [options]  (see --help)", file=sys.stderr)
        return 2
    start = time.monotonic()
    steps = []

    def timed(name, fn, *a):
        t0 = time.monotonic()
        result, status, *detail = fn(*a)
        steps.append((name, status, time.monotonic() - t0, *detail))
        return result

    try:
        from .packages.cli import load_policy

        try:
            args.policy = load_policy(args.config)
        except (ValueError, OSError) as e:
            raise BuildError(f"--config {args.config}: {e}") from None
        src = source_tree(args.source)
        _resolve(args, src)
        check_engine()
        base_ref = timed("base", build_base, args, src)
        t0 = time.monotonic()
        lock = lock_in_force(args, src)
        ref, wanted, found, cached = singleuser_plan(args, src, base_ref, lock)
        if cached:
            docker("tag", ref, f"{SINGLEUSER_REPO}:latest")
            steps.append(("singleuser", "cached", time.monotonic() - t0, _size(ref)))
            if args.config:  # the policy may have changed since the image was built
                check_packages_of(ref, args.policy, "the single-user image", ref)
        else:
            with tempfile.TemporaryDirectory(prefix="jupyterhub-ds-wheel-") as out:
                wheel = timed("wheel", lambda: (build_wheel(src, out), "built"))
                timed("singleuser", build_singleuser, args, src, base_ref, wheel, ref, wanted, found, lock)
        built = [base_ref, ref, f"{SINGLEUSER_REPO}:latest"]
        if not args.no_scipy:
            t0 = time.monotonic()
            scipy_lock = scipy_lock_in_force(args, src)
            scipy_ref, wanted, found, cached, base = scipy_plan(args, src, ref, scipy_lock)
            if cached:
                docker("tag", scipy_ref, f"{SCIPY_REPO}:latest")
                steps.append(("singleuser-scipy", "cached", time.monotonic() - t0, _size(scipy_ref)))
                if args.config:
                    check_packages_of(scipy_ref, args.policy, "the data-science image", scipy_ref)
            else:
                timed("singleuser-scipy", build_scipy, args, src, ref, base, scipy_ref, wanted, found, scipy_lock)
            built += [scipy_ref, f"{SCIPY_REPO}:latest"]
    except BuildError as e:
        print(f"images build: error: {e}", file=sys.stderr)
        return 1
    print(format_report(steps, time.monotonic() - start), flush=True)
    print(f"images: {', '.join(built)}", flush=True)
    return 0
