"""jupyterhub-ds: a governed, self-hosted data science workbench on JupyterHub."""

from ._version import __version__

__all__ = ["__version__"]
