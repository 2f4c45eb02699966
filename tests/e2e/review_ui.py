"""What the review browser tests share: the frontend's selectors and a notebook writer."""

import nbformat

TOOLBAR_BUTTON = ".jp-NotebookPanel-toolbar .jp-jhds-SubmitToolbarButton"
DIALOG = ".jp-Dialog .jp-jhds-SubmitDialog"
PANEL_TAB = '.lm-TabBar-tab[data-id="jupyterhub-ds-review-status"]'


def write_notebook(path, source, outputs=()):
    """A one-code-cell notebook at ``path`` whose stdout outputs are ``outputs``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text) for text in outputs]
    nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
