"""``python -m jupyterhub_ds.promotion``: the same as the ``jupyterhub-ds-promotion`` command."""

from .app import main

main()
