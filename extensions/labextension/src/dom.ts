/**
 * Tiny DOM builder. Every string from the server goes in as `textContent`, never as HTML,
 * so a notebook title or a GitLab message containing markup is shown, not run.
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: { className?: string; text?: string; attrs?: Record<string, string> } = {},
  ...children: (Node | null)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (options.className) {
    node.className = options.className;
  }
  if (options.text !== undefined) {
    node.textContent = options.text;
  }
  for (const [name, value] of Object.entries(options.attrs ?? {})) {
    node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child) {
      node.appendChild(child);
    }
  }
  return node;
}

/**
 * A link that opens in a new tab. Only http(s) URLs become links; anything else
 * (e.g. a `javascript:` URL from a misbehaving server) is shown as plain text.
 */
export function externalLink(href: string, text: string, className = ''): HTMLElement {
  let safe = false;
  try {
    const url = new URL(href, window.location.href);
    safe = url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    safe = false;
  }
  if (!safe) {
    return el('span', { className, text });
  }
  return el('a', {
    className,
    text,
    attrs: { href, target: '_blank', rel: 'noopener noreferrer' }
  });
}

/** The notebook's file name without folders and without `.ipynb`. */
export function notebookStem(path: string): string {
  const name = path.split('/').pop() ?? path;
  return name.replace(/\.ipynb$/i, '');
}
