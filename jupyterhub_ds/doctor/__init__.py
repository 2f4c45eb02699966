"""``jupyterhub-ds doctor``: is a running deployment hardened? Pass or fail, with the fix.

It reads the admin YAML the hub runs with and asks the Docker engine and the network what
is really there. The checks (:mod:`.checks`, pure, over what :mod:`.cli` gathers):

- the admin YAML has no problems;
- dockerd answers;
- every image the YAML names for servers and promotion runs is on the engine and carries the
  ``org.jupyterhub-ds.version`` and ``org.jupyterhub-ds.packages`` labels ``images build``
  puts on it;
- ``JUPYTERHUB_CRYPT_KEY`` holds 32-byte keys (run doctor with the hub's environment);
- each user's server has its own origin (``hub.subdomain_host``), or the YAML says why not
  (``hub.single_origin_reason``);
- TLS in front of the proxy: an https ``public_url`` whose ``/hub/health`` answers over a
  verified connection, or a hub bound to loopback only (reported as "local only");
- the user network exists as a bridge with inter-container traffic off;
- every running user container (label ``org.jupyterhub-ds.user``) runs as a non-root user
  with ``no-new-privileges``, every capability dropped (none added back beyond
  ``hardening.cap_add``), not privileged, CPU, memory (no extra swap) and process limits, no
  Docker socket, on the user network only;
- from a probe container on the user network (:mod:`.probe`: the single-user image, uid 1000,
  no capabilities, read-only, bounded in time): the hub API answers (servers need it), while
  the proxy's API, the hub and promotion databases (when on the network), the promotion
  service's own port and the Docker API on the network's gateway do not;
- the audit file, when ``audit.path`` names one, can be appended to.

Exit 1 when any check fails.
"""
