/**
 * The "Submit for review" dialog: title, description, target branch, the pre-submit gate
 * results from `POST review/check`, a Submit button (disabled with a spinner while it runs),
 * then the merge request link or the error, exactly as the server phrased it.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import {
  checkNotebook,
  ICheckResult,
  IErrorBody,
  IGateResult,
  ISubmitResult,
  submitNotebook
} from './api';
import { el, externalLink, notebookStem } from './dom';
import { renderGates } from './gates';
import { ReviewAPIError } from './request';

export interface ISubmitDialogOptions {
  /** API path of the notebook (relative to the server root). */
  path: string;
  /** Save the open notebook (if it is open and has unsaved changes) before check/submit. */
  save?: () => Promise<void>;
  /** Called after a successful submit (e.g. to refresh the status panel). */
  onSubmitted?: (result: ISubmitResult) => void;
}

/** Notebooks with a submit under way in this browser window: a second click waits. */
const running = new Set<string>();

function errorMessage(error: unknown): string {
  if (error instanceof ReviewAPIError) {
    return error.message;
  }
  return `Unexpected error: ${String(error)}`;
}

export class SubmitReviewBody extends Widget {
  constructor(private readonly options: ISubmitDialogOptions) {
    super();
    this.addClass('jp-jhds-SubmitDialog');
    const node = this.node;
    const field = (label: string, input: HTMLElement) =>
      el('label', { className: 'jp-jhds-Field' }, el('span', { text: label }), input);

    this.titleInput = el('input', {
      className: 'jp-mod-styled jp-jhds-Title',
      attrs: { type: 'text', name: 'title', maxlength: '255' }
    });
    this.titleInput.value = notebookStem(options.path);
    this.descriptionInput = el('textarea', {
      className: 'jp-mod-styled jp-jhds-Description',
      attrs: { name: 'description', rows: '3', placeholder: 'What changed and why (optional)' }
    });
    this.targetInput = el('input', {
      className: 'jp-mod-styled jp-jhds-Target',
      attrs: { type: 'text', name: 'target_branch', placeholder: 'default (set by the review policy)' }
    });
    this.gatesNode = el('div', { className: 'jp-jhds-Gates', attrs: { 'aria-live': 'polite' } });
    this.checkButton = el('button', {
      className: 'jp-mod-styled jp-mod-reject jp-jhds-CheckButton',
      text: 'Check again',
      attrs: { type: 'button' }
    });
    this.submitButton = el('button', {
      className: 'jp-mod-styled jp-mod-accept jp-jhds-SubmitButton',
      text: 'Submit',
      attrs: { type: 'button' }
    });
    this.spinner = el('span', { className: 'jp-jhds-Spinner', attrs: { role: 'progressbar' } });
    this.spinner.hidden = true;
    this.resultNode = el('div', { className: 'jp-jhds-Result', attrs: { 'aria-live': 'polite' } });

    node.appendChild(el('div', { className: 'jp-jhds-Path', text: options.path }));
    node.appendChild(field('Title', this.titleInput));
    node.appendChild(field('Description', this.descriptionInput));
    node.appendChild(field('Target branch', this.targetInput));
    node.appendChild(el('div', { className: 'jp-jhds-SectionTitle', text: 'Pre-submit checks' }));
    node.appendChild(this.gatesNode);
    node.appendChild(this.resultNode);
    node.appendChild(
      el(
        'div',
        { className: 'jp-jhds-Actions' },
        this.spinner,
        this.checkButton,
        this.submitButton
      )
    );

    this.checkButton.addEventListener('click', () => void this.check());
    this.submitButton.addEventListener('click', () => void this.submit());
    this.titleInput.addEventListener('input', () => this.updateButtons());
    this.updateButtons();
  }

  /** Run the pre-submit gates and show their results; Submit is enabled when all pass. */
  async check(): Promise<void> {
    if (this.busy) {
      return;
    }
    this.setBusy(true, 'Checking\u2026');
    this.checkResult = null;
    this.gatesNode.replaceChildren(el('div', { className: 'jp-jhds-Pending', text: 'Checking\u2026' }));
    try {
      await this.options.save?.();
      const result = await checkNotebook(this.options.path);
      this.checkResult = result;
      if (result.repo.target_branch) {
        // the branch the server submits to when the field is left empty (the review policy's)
        this.targetInput.placeholder = `default: ${result.repo.target_branch}`;
      }
      this.showGates(result.gates, result.ok);
    } catch (error) {
      this.gatesNode.replaceChildren(
        el('div', { className: 'jp-jhds-Error', text: errorMessage(error), attrs: { role: 'alert' } })
      );
    } finally {
      this.setBusy(false);
    }
  }

  /** Submit: commit, push and open or update the merge request (server side). */
  async submit(): Promise<void> {
    const path = this.options.path;
    if (this.busy || !this.checkResult?.ok) {
      return;
    }
    if (running.has(path)) {
      this.showError('A submit of this notebook is already running in this window; wait for it to finish.');
      return;
    }
    running.add(path);
    this.setBusy(true, 'Submitting\u2026');
    this.resultNode.replaceChildren(
      el('div', { className: 'jp-jhds-Pending', text: 'Committing, pushing and opening the merge request\u2026' })
    );
    try {
      await this.options.save?.();
      const target = this.targetInput.value.trim();
      const description = this.descriptionInput.value;
      const result = await submitNotebook({
        path,
        title: this.titleInput.value.trim(),
        ...(description.trim() ? { description } : {}),
        ...(target ? { target_branch: target } : {})
      });
      if (Array.isArray(result.gates)) {
        this.showGates(result.gates, true);
      }
      this.showSuccess(result);
      this.options.onSubmitted?.(result);
    } catch (error) {
      this.showError(errorMessage(error));
      const body = error instanceof ReviewAPIError ? (error.body as Partial<IErrorBody>) : {};
      if (Array.isArray(body.gates)) {
        this.showGates(body.gates, false);
        this.checkResult = null; // fix, then check again before the next submit
      }
    } finally {
      running.delete(path);
      this.setBusy(false);
    }
  }

  private showGates(gates: IGateResult[], ok: boolean): void {
    const summary = ok
      ? 'All checks passed.'
      : 'Some checks failed: fix what is listed, save, then click "Check again".';
    this.gatesNode.replaceChildren(
      el('div', { className: ok ? 'jp-jhds-Ok' : 'jp-jhds-Error', text: summary }),
      renderGates(gates)
    );
  }

  private showSuccess(result: ISubmitResult): void {
    const mr = result.mr;
    const verb = result.created ? 'created' : 'updated';
    this.resultNode.replaceChildren(
      el(
        'div',
        { className: 'jp-jhds-Success', attrs: { role: 'status' } },
        el('span', { text: `Merge request !${mr.iid} ${verb}: ` }),
        externalLink(mr.web_url, mr.title || mr.web_url, 'jp-jhds-MRLink'),
        el('span', { className: 'jp-jhds-State', text: ` (${mr.state})` })
      ),
      el('div', {
        className: 'jp-jhds-Detail',
        text: `Branch ${result.branch}, commit ${String(result.commit).slice(0, 12)}`
      })
    );
    this.submitButton.textContent = 'Submit again';
    this.reveal();
  }

  private showError(message: string): void {
    this.resultNode.replaceChildren(
      el('div', { className: 'jp-jhds-Error', text: message, attrs: { role: 'alert' } })
    );
    this.reveal();
  }

  /** The dialog body scrolls on small screens: bring the result and the buttons into view. */
  private reveal(): void {
    this.submitButton.scrollIntoView?.({ block: 'nearest' });
  }

  private setBusy(busy: boolean, label = ''): void {
    this.busy = busy;
    this.spinner.hidden = !busy;
    this.spinner.setAttribute('aria-label', label);
    this.node.toggleAttribute('data-busy', busy);
    this.updateButtons();
  }

  private updateButtons(): void {
    const titled = this.titleInput.value.trim().length > 0;
    this.submitButton.disabled = this.busy || !titled || !this.checkResult?.ok;
    this.checkButton.disabled = this.busy;
  }

  private busy = false;
  private checkResult: ICheckResult | null = null;
  private readonly titleInput: HTMLInputElement;
  private readonly descriptionInput: HTMLTextAreaElement;
  private readonly targetInput: HTMLInputElement;
  private readonly gatesNode: HTMLElement;
  private readonly checkButton: HTMLButtonElement;
  private readonly submitButton: HTMLButtonElement;
  private readonly spinner: HTMLElement;
  private readonly resultNode: HTMLElement;
}

/** Open the dialog for one notebook and run the checks right away. */
export async function openSubmitDialog(options: ISubmitDialogOptions): Promise<void> {
  const body = new SubmitReviewBody(options);
  const dialog = new Dialog({
    title: 'Submit for review',
    body,
    buttons: [Dialog.cancelButton({ label: 'Close' })],
    // -1: Enter in the form fields must not close the dialog (Dialog's default would)
    defaultButton: -1,
    focusNodeSelector: '.jp-jhds-Title'
  });
  dialog.addClass('jp-jhds-Dialog');
  void body.check();
  try {
    await dialog.launch();
  } finally {
    dialog.dispose();
  }
}
