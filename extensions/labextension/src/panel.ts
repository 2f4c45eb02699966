/**
 * The review status side panel: the notebooks this user submitted, each with its merge
 * request link, state and approvals, and the review run of its head commit (the clean run
 * of the changed notebooks, with a link to them executed), from `GET review/status`; a
 * refresh button. While a run is queued or running and the panel is shown, it refreshes
 * itself every RUN_REFRESH_MS.
 */
import { Toolbar, ToolbarButton } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';

import { getStatus, IReviewRun, ISubmission } from './api';
import { el, externalLink } from './dom';
import { ReviewAPIError } from './request';

function stateText(submission: ISubmission): string {
  const mr = submission.mr;
  if (mr.merged) {
    return 'merged';
  }
  const approvals = Number(mr.approvals) || 0;
  const approval = mr.approved
    ? `approved (${approvals})`
    : `${approvals} approval${approvals === 1 ? '' : 's'}`;
  return `${mr.state}, ${approval}`;
}

const RUN_REFRESH_MS = 10_000;
const RUN_STATES: Record<string, string> = {
  pending: 'queued',
  running: 'running',
  success: 'passed',
  failed: 'failed',
  canceled: 'replaced by a newer commit'
};

function runInProgress(run?: IReviewRun): boolean {
  return run !== undefined && (run.state === 'pending' || run.state === 'running');
}

function renderRun(run?: IReviewRun): HTMLElement | null {
  if (!run) {
    return null;
  }
  const state = RUN_STATES[run.state] ?? run.state;
  const node = el(
    'div',
    { className: 'jp-jhds-SubmissionRun', attrs: { 'data-run-state': run.state, title: run.description } },
    el('span', { className: 'jp-jhds-RunState', text: `Clean run: ${state}` })
  );
  if (run.state === 'failed' && run.description) {
    node.appendChild(el('span', { className: 'jp-jhds-RunDescription', text: ` \u2014 ${run.description}` }));
  }
  if (run.target_url) {
    node.appendChild(document.createTextNode(' '));
    node.appendChild(externalLink(run.target_url, 'executed notebooks', 'jp-jhds-RunLink'));
  }
  return node;
}

function renderSubmission(submission: ISubmission): HTMLElement {
  const mr = submission.mr;
  return el(
    'li',
    {
      className: 'jp-jhds-Submission',
      attrs: { 'data-path': submission.path, 'data-state': mr.merged ? 'merged' : String(mr.state) }
    },
    el('div', { className: 'jp-jhds-SubmissionPath', text: submission.path }),
    el(
      'div',
      { className: 'jp-jhds-SubmissionMR' },
      externalLink(mr.web_url, `!${mr.iid} ${mr.title}`, 'jp-jhds-MRLink')
    ),
    el('div', { className: 'jp-jhds-SubmissionState', text: stateText(submission) }),
    renderRun(submission.run),
    el('div', { className: 'jp-jhds-SubmissionBranch', text: submission.branch })
  );
}

export class ReviewStatusPanel extends Panel {
  constructor() {
    super();
    this.id = 'jupyterhub-ds-review-status';
    this.addClass('jp-jhds-StatusPanel');
    this.title.caption = 'Reviews: your merge requests';

    const toolbar = new Toolbar();
    toolbar.addClass('jp-jhds-StatusToolbar');
    toolbar.addItem('title', new Widget({ node: el('span', { className: 'jp-jhds-PanelTitle', text: 'Reviews' }) }));
    toolbar.addItem('spacer', Toolbar.createSpacerItem());
    toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: 'Refresh review status',
        className: 'jp-jhds-RefreshButton',
        onClick: () => void this.refresh()
      })
    );
    this.addWidget(toolbar);
    this.content = new Widget({ node: el('div', { className: 'jp-jhds-StatusContent', attrs: { 'aria-live': 'polite' } }) });
    this.addWidget(this.content);
  }

  /** Load the submissions again (a second call while one runs is ignored). */
  async refresh(): Promise<void> {
    if (this.loading) {
      return;
    }
    this.loading = true;
    this.node.toggleAttribute('data-loading', true);
    const node = this.content.node;
    if (!node.firstChild) {
      node.appendChild(el('div', { className: 'jp-jhds-Pending', text: 'Loading\u2026' }));
    }
    try {
      const { submissions } = await getStatus();
      if (!Array.isArray(submissions) || submissions.length === 0) {
        node.replaceChildren(
          el('div', {
            className: 'jp-jhds-Empty',
            text: 'No submissions yet. Open a notebook in a project and click "Submit for review".'
          })
        );
      } else {
        const list = el('ul', { className: 'jp-jhds-SubmissionList' });
        submissions.forEach(s => list.appendChild(renderSubmission(s)));
        node.replaceChildren(list);
      }
      this.refreshWhileRunning(Array.isArray(submissions) && submissions.some(s => runInProgress(s.run)));
    } catch (error) {
      const message = error instanceof ReviewAPIError ? error.message : String(error);
      node.replaceChildren(el('div', { className: 'jp-jhds-Error', text: message, attrs: { role: 'alert' } }));
    } finally {
      this.loading = false;
      this.node.toggleAttribute('data-loading', false);
    }
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  protected onAfterHide(): void {
    this.refreshWhileRunning(false);
  }

  dispose(): void {
    this.refreshWhileRunning(false);
    super.dispose();
  }

  /** Refresh again in RUN_REFRESH_MS while a run is in progress and the panel is shown. */
  private refreshWhileRunning(inProgress: boolean): void {
    if (this.timer !== undefined) {
      window.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (inProgress && this.isVisible && !this.isDisposed) {
      this.timer = window.setTimeout(() => void this.refresh(), RUN_REFRESH_MS);
    }
  }

  private timer: number | undefined = undefined;
  private loading = false;
  private readonly content: Widget;
}
