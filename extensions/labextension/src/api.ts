/** Typed calls of the review REST API (see the contract in the repository's briefs). */
import { requestAPI } from './request';

export type GateName =
  | 'paired'
  | 'no_outputs'
  | 'secrets'
  | 'size'
  | 'syntax'
  | 'packages';

export interface IGateResult {
  gate: GateName | string;
  ok: boolean;
  messages: string[];
}

export interface ICheckResult {
  path: string;
  repo: { root: string; project: string; branch: string; target_branch: string };
  gates: IGateResult[];
  ok: boolean;
}

export interface IMergeRequest {
  iid: number;
  web_url: string;
  state: string;
  title: string;
}

export interface ISubmitRequest {
  path: string;
  title: string;
  description?: string;
  target_branch?: string;
}

export interface ISubmitResult {
  path: string;
  branch: string;
  commit: string;
  mr: IMergeRequest;
  created: boolean;
  summary: string;
  gates: IGateResult[];
}

export interface IStatusMergeRequest extends IMergeRequest {
  approved: boolean;
  approvals: number;
  merged: boolean;
}

export interface ISubmission {
  path: string;
  branch: string;
  mr: IStatusMergeRequest;
}

export interface IStatusResult {
  submissions: ISubmission[];
}

function post(body: unknown): RequestInit {
  return { method: 'POST', body: JSON.stringify(body) };
}

export function checkNotebook(path: string): Promise<ICheckResult> {
  return requestAPI<ICheckResult>('review/check', post({ path }));
}

export function submitNotebook(request: ISubmitRequest): Promise<ISubmitResult> {
  return requestAPI<ISubmitResult>('review/submit', post(request));
}

export function getStatus(path?: string): Promise<IStatusResult> {
  const query = path ? `?path=${encodeURIComponent(path)}` : '';
  return requestAPI<IStatusResult>(`review/status${query}`);
}
