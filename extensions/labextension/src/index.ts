/**
 * @jupyterhub-ds/review: "Submit for review" for notebooks in git working copies.
 *
 * Adds a toolbar button on notebooks, a palette command, a file-browser context menu item
 * for .ipynb files, and a "Reviews" side panel. The work happens in the jupyterhub-ds server
 * extension (`<base_url>/jupyterhub-ds/review/*`); this side only asks and shows.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, ToolbarButton } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { openSubmitDialog } from './dialog';
import { ReviewStatusPanel } from './panel';

export namespace CommandIDs {
  export const submit = 'jupyterhub-ds:submit-for-review';
  export const submitSelected = 'jupyterhub-ds:submit-selected-for-review';
  export const showStatus = 'jupyterhub-ds:show-review-status';
}

const reviewIcon = new LabIcon({
  name: 'jupyterhub-ds:review',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161"><circle cx="6" cy="5" r="2.5"/><circle cx="6" cy="19" r="2.5"/>' +
    '<circle cx="18" cy="19" r="2.5"/><rect x="5" y="7" width="2" height="10"/>' +
    '<path d="M17 17V10a3 3 0 0 0-3-3h-2V4L8 8l4 4V9h2a1 1 0 0 1 1 1v7z"/></g></svg>'
});

function isNotebookPath(path: string | undefined): path is string {
  return typeof path === 'string' && path.toLowerCase().endsWith('.ipynb');
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@jupyterhub-ds/review:plugin',
  description: 'Submit a notebook for review as a GitLab merge request and follow its state.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, IFileBrowserFactory],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    palette: ICommandPalette | null,
    browsers: IFileBrowserFactory | null
  ) => {
    const { commands, shell } = app;
    const panel = new ReviewStatusPanel();
    panel.title.icon = reviewIcon;

    /** Save the notebook first if it is open with unsaved changes: the server reads the file. */
    const saveIfOpen = (path: string) => async () => {
      const open = notebooks.find(p => p.context.path === path);
      if (open && open.context.model.dirty) {
        await open.context.save();
      }
    };
    const submit = (path: string) =>
      openSubmitDialog({
        path,
        save: saveIfOpen(path),
        onSubmitted: () => void panel.refresh()
      });

    const currentNotebookPath = (args: Record<string, unknown>): string | undefined => {
      if (typeof args.path === 'string') {
        return args.path;
      }
      return notebooks.currentWidget?.context.path;
    };
    const selectedNotebookPath = (): string | undefined => {
      const browser = browsers?.tracker.currentWidget;
      if (!browser) {
        return undefined;
      }
      for (const item of browser.selectedItems()) {
        if (isNotebookPath(item.path)) {
          return item.path;
        }
      }
      return undefined;
    };

    commands.addCommand(CommandIDs.submit, {
      label: 'Submit for review',
      caption: 'Check this notebook and open (or update) a GitLab merge request for it',
      icon: args => (args.toolbar ? reviewIcon : undefined),
      isEnabled: args => isNotebookPath(currentNotebookPath(args)),
      execute: args => {
        const path = currentNotebookPath(args);
        return isNotebookPath(path) ? submit(path) : undefined;
      }
    });
    commands.addCommand(CommandIDs.submitSelected, {
      label: 'Submit for review',
      caption: 'Check the selected notebook and open (or update) a GitLab merge request for it',
      icon: reviewIcon,
      isVisible: () => isNotebookPath(selectedNotebookPath()),
      execute: () => {
        const path = selectedNotebookPath();
        return isNotebookPath(path) ? submit(path) : undefined;
      }
    });
    commands.addCommand(CommandIDs.showStatus, {
      label: 'Show review status',
      caption: 'Show your merge requests and their approvals',
      execute: () => {
        if (!panel.isAttached) {
          shell.add(panel, 'right', { rank: 900 });
        }
        shell.activateById(panel.id);
        return panel.refresh();
      }
    });

    palette?.addItem({ command: CommandIDs.submit, category: 'Review' });
    palette?.addItem({ command: CommandIDs.showStatus, category: 'Review' });

    if (browsers) {
      app.contextMenu.addItem({
        command: CommandIDs.submitSelected,
        selector: '.jp-DirListing-item[data-file-type="notebook"]',
        rank: 50
      });
    }

    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (nbPanel: NotebookPanel) => {
        const button = new ToolbarButton({
          icon: reviewIcon,
          label: 'Submit for review',
          tooltip: 'Check this notebook and open (or update) a GitLab merge request for it',
          className: 'jp-jhds-SubmitToolbarButton',
          onClick: () => void commands.execute(CommandIDs.submit, { path: nbPanel.context.path })
        });
        nbPanel.toolbar.insertItem(10, 'jupyterhubDsSubmitForReview', button);
        return button;
      }
    });

    shell.add(panel, 'right', { rank: 900 });
  }
};

export default plugin;
