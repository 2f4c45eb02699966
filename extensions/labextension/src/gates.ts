/** Rendering of pre-submit gate results (shared by the check and the refused submit). */
import { IGateResult } from './api';
import { el } from './dom';

const GATE_LABELS: Record<string, string> = {
  paired: 'Paired with its .py script and in sync',
  no_outputs: 'No outputs in committed files',
  secrets: 'No secrets (tokens, keys)',
  size: 'Within size limits',
  syntax: 'Python syntax of the script',
  packages: 'Imports on the package allow-list'
};

export function gateLabel(gate: string): string {
  return GATE_LABELS[gate] ?? gate;
}

/** A list with one item per gate: mark, label, and the gate's messages underneath. */
export function renderGates(gates: IGateResult[]): HTMLElement {
  const list = el('ul', { className: 'jp-jhds-GateList' });
  for (const gate of gates) {
    const state = gate.ok ? 'ok' : 'failed';
    const item = el(
      'li',
      {
        className: `jp-jhds-Gate jp-jhds-Gate-${state}`,
        attrs: { 'data-gate': String(gate.gate), 'data-state': state }
      },
      el('span', {
        className: 'jp-jhds-GateMark',
        text: gate.ok ? '\u2713' : '\u2717',
        attrs: { 'aria-label': gate.ok ? 'passed' : 'failed' }
      }),
      el('span', { className: 'jp-jhds-GateLabel', text: gateLabel(String(gate.gate)) })
    );
    const messages = Array.isArray(gate.messages) ? gate.messages : [];
    if (messages.length > 0) {
      const ul = el('ul', { className: 'jp-jhds-GateMessages' });
      for (const message of messages) {
        ul.appendChild(el('li', { text: String(message) }));
      }
      item.appendChild(ul);
    }
    list.appendChild(item);
  }
  return list;
}
