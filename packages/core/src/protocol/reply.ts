import { ERROR_RESPONSE_HEADERS, type OAuthError } from './errors.js';

/**
 * An answer as plain values. The API endpoints (token, revocation, introspection, registration) answer with
 * one, so the security, CORS and rate-limit fields are added to one record and the Web `Response` is built
 * once, by `fetch`, or never: the Node glue writes a reply to the socket directly. Header names are lower
 * case, so adding a field replaces one of the same name as `Headers.set` would.
 *
 * @example
 * ```ts
 * const reply: Reply = { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: '{"active":false}' };
 * ```
 * @see [RFC 9110 §15](https://www.rfc-editor.org/rfc/rfc9110#section-15)
 */
export interface Reply {
  /** The HTTP status code. */
  status: number;
  /** The header fields, names in lower case. */
  headers: Record<string, string>;
  /** The body as text (JSON for every API endpoint), or null for none. */
  body: string | null;
}

/**
 * The method by which the Node glue asks an `AuthorizationServer` to answer a request whose body it has
 * already read, and to give the answer as a {@link Reply} where it can. A registered symbol, so the glue
 * finds it whichever copy of the package built the server.
 */
export const ANSWER_PREREAD: unique symbol = Symbol.for('keyward.answerPreread');

/** `no-store` in both spellings (RFC 6749 §5.1): token and client answers carry secrets. */
export const NO_STORE_HEADERS: Readonly<Record<string, string>> = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** A `no-store` JSON reply (RFC 6749 §5.1). */
export function jsonReply(body: unknown, init: { status?: number; headers?: Record<string, string> } = {}): Reply {
  return { status: init.status ?? 200, headers: { 'content-type': 'application/json', ...NO_STORE_HEADERS, ...init.headers }, body: JSON.stringify(body) };
}

/** The RFC-shaped JSON error reply for `error` (RFC 6749 §5.2). */
export function errorReply(error: OAuthError, extraHeaders?: Record<string, string>): Reply {
  return { status: error.status, headers: { ...ERROR_RESPONSE_HEADERS, ...error.headers, ...extraHeaders }, body: JSON.stringify(error.toJSON()) };
}

/** Whether `answer` is a plain {@link Reply} rather than a Web `Response` (pages and redirects stay those). */
export function isReply(answer: Response | Reply): answer is Reply {
  return !('bodyUsed' in answer);
}

/** Adds header fields to a reply or a response, replacing fields of the same name. */
export function addHeaders<T extends Response | Reply>(answer: T, headers: Readonly<Record<string, string>>): T {
  if (isReply(answer)) Object.assign(answer.headers, headers);
  else for (const name in headers) answer.headers.set(name, headers[name]!);
  return answer;
}

/** Whether a reply or a response carries the header field `name` (lower case). */
export function hasHeader(answer: Response | Reply, name: string): boolean {
  return isReply(answer) ? name in answer.headers : answer.headers.has(name);
}

/** The Web `Response` for an answer. */
export function toResponse(answer: Response | Reply): Response {
  return isReply(answer) ? new Response(answer.body, { status: answer.status, headers: answer.headers }) : answer;
}
