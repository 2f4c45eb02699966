/**
 * Typed calls of the review REST API. The types are the contract
 * extensions/review/api_contract.json (one interface per `$defs` entry of the same name);
 * tests/unit/test_review_api_contract.py fails when the two drift apart.
 */
import { requestAPI } from './request';

export type GateName = 'paired' | 'no_outputs' | 'secrets' | 'size' | 'syntax' | 'packages';

export interface IGateResult {
  gate: GateName;
  ok: boolean;
  messages: string[];
}

export interface ICheckRequest {
  path: string;
}

export interface ICheckRepo {
  root: string;
  project: string | null;
  branch: string;
  current_branch: string | null;
  target_branch: string;
}

export interface ICheckResult {
  path: string;
  repo: ICheckRepo;
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
  summary_fallback: boolean;
  gates: IGateResult[];
}

export interface IStatusMergeRequest extends IMergeRequest {
  approved: boolean;
  approvals: number;
  merged: boolean;
}

/** The review run of a merge request's head commit (its commit status on GitLab). */
export interface IReviewRun {
  state: string;
  sha: string;
  target_url: string | null;
  description: string;
}

export interface ISubmission {
  path: string;
  branch: string;
  mr: IStatusMergeRequest;
  run?: IReviewRun;
}

export interface IStatusResult {
  submissions: ISubmission[];
}

/** The body of every refusal or failure (with its HTTP status). */
export interface IErrorBody {
  message: string;
  gates?: IGateResult[];
}

function post(body: unknown): RequestInit {
  return { method: 'POST', body: JSON.stringify(body) };
}

export function checkNotebook(path: string): Promise<ICheckResult> {
  const request: ICheckRequest = { path };
  return requestAPI<ICheckResult>('review/check', post(request));
}

export function submitNotebook(request: ISubmitRequest): Promise<ISubmitResult> {
  return requestAPI<ISubmitResult>('review/submit', post(request));
}

export function getStatus(path?: string): Promise<IStatusResult> {
  const query = path ? `?path=${encodeURIComponent(path)}` : '';
  return requestAPI<IStatusResult>(`review/status${query}`);
}
