"""Export the admin YAML's policy to other platforms.

``jupyterhub-ds export z2jh ADMIN.yaml``: Helm values for Zero to JupyterHub (Kubernetes),
see ``z2jh`` (the pure translation), ``z2jh_rules`` (where each setting goes, and the walk
that reports what does not carry over), ``z2jh_hub`` (what the exported ``hub.extraConfig``
runs in the hub pod) and ``cli``.
"""
