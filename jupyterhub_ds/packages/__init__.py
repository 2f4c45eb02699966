"""Package governance of the images: what an image may hold, under which licences, with which
known vulnerabilities.

One check, three callers: ``jupyterhub-ds packages check IMAGE`` (:mod:`.cli`), the image build
(``jupyterhub-ds images build --config``: every image it builds, before it is tagged) and every
promotion clean run (``jupyterhub_ds.promotion.packages.check_packages``, on what the run's
container lists). The pieces:

- :mod:`.policy`     the admin YAML's ``packages:`` section as a :class:`~.policy.PackagePolicy`,
                     and the pure check of a list of installed distributions against it;
- :mod:`.osv`        an offline reader of OSV advisories (osv.dev's export) and the matching
                     of a version against their affected ranges;
- :mod:`.inventory`  what an image holds: name, version and licence fields of every Python
                     distribution, read in a throwaway container of the image.
"""
