/**
 * The one door to the review server extension: every call goes through `requestAPI`,
 * which uses the server connection settings (base URL, XSRF token, auth) of this page.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** URL namespace of the server extension, under the server's base URL. */
export const API_NAMESPACE = 'jupyterhub-ds';

/**
 * A refusal or failure of the review API, carrying the HTTP status and the server's
 * `message` (shown to the user as-is) plus any other fields of the JSON body (e.g. `gates`).
 */
export class ReviewAPIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown> = {}
  ) {
    super(message);
    this.name = 'ReviewAPIError';
  }
}

function describeStatus(status: number, endpoint: string): string {
  if (status === 404) {
    return (
      `The review service was not found (404 for ${API_NAMESPACE}/${endpoint}): ` +
      'the jupyterhub-ds server extension is not enabled on this server. ' +
      'Ask your administrator to enable it, or restart your server from the hub control panel.'
    );
  }
  if (status === 401 || status === 403) {
    return (
      `Not allowed (HTTP ${status}): your session may have expired. ` +
      'Reload the page (log in again if asked) and retry.'
    );
  }
  return `The review service answered HTTP ${status} for ${endpoint} without an explanation.`;
}

/**
 * Call `<base_url>/jupyterhub-ds/<endpoint>` and return its JSON body.
 *
 * Throws `ReviewAPIError` for any non-2xx answer (with the server's `message` when the
 * body has one) and for a network failure (status 0).
 */
export async function requestAPI<T>(
  endpoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endpoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ReviewAPIError(
      0,
      `Could not reach your Jupyter server (${String(error)}). ` +
        'Check your connection, then retry; nothing was submitted.'
    );
  }
  const text = await response.text();
  let body: Record<string, unknown> = {};
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = {};
    }
  }
  if (!response.ok) {
    const serverMessage = typeof body.message === 'string' ? body.message : '';
    throw new ReviewAPIError(
      response.status,
      serverMessage || describeStatus(response.status, endpoint),
      body
    );
  }
  return body as unknown as T;
}
