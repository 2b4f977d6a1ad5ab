/**
 * One POST to a Slack incoming webhook, and what its answer means. The webhook URL is a secret (its
 * path is the credential): it never goes into a returned description, even when the HTTP client's
 * own error message or cause carries it.
 */

export type SlackAnswer =
  /** HTTP 200 with body `ok`: the only answer that means Slack posted the message. */
  | { readonly kind: 'accepted' }
  /** 429: resend the same message after Retry-After (null when absent or unreadable). */
  | {
      readonly kind: 'rate-limited';
      readonly status: number;
      readonly body: string;
      readonly retryAfterMs: number | null;
    }
  /** 5xx: Slack's side; worth a bounded retry. */
  | { readonly kind: 'server-error'; readonly status: number; readonly body: string }
  /** Anything else (4xx, 3xx, a 200 that is not `ok`): sending it again would get the same answer. */
  | { readonly kind: 'refused'; readonly status: number; readonly body: string }
  /** No HTTP answer: connection refused or reset, DNS, TLS, timeout. Slack may or may not have posted. */
  | { readonly kind: 'network-error'; readonly description: string };

/** Slack's error bodies are short words (`channel_not_found`); a proxy's HTML page is cut here. */
const MAX_BODY_CHARS = 500;

/** Retry-After in milliseconds: delay-seconds or an HTTP date (RFC 9110); null if unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

export function classifyAnswer(
  status: number,
  body: string,
  retryAfter: string | null,
  nowMs: number,
): SlackAnswer {
  const text = body.length > MAX_BODY_CHARS ? `${body.slice(0, MAX_BODY_CHARS)}…` : body;
  if (status === 200 && body.trim() === 'ok') return { kind: 'accepted' };
  if (status === 429) {
    return { kind: 'rate-limited', status, body: text, retryAfterMs: parseRetryAfter(retryAfter, nowMs) };
  }
  if (status >= 500 && status <= 599) return { kind: 'server-error', status, body: text };
  return { kind: 'refused', status, body: text };
}

/** Replaces the webhook URL, and its path alone (the credential part), wherever they appear. */
export function redactWebhookUrl(text: string, webhookUrl: string): string {
  const secrets = [webhookUrl];
  try {
    const url = new URL(webhookUrl);
    secrets.push(url.href);
    if (url.pathname.length > 1) secrets.push(url.pathname, decodeURIComponent(url.pathname));
    if (url.search !== '') secrets.push(url.search);
    // A proxy or error page may echo only part of the path; Slack's token is its last segment.
    for (const segment of url.pathname.split('/')) if (segment.length >= 8) secrets.push(segment);
    if (url.password !== '') secrets.push(url.password);
  } catch {
    // Not a URL: only the raw value can appear.
  }
  let result = text;
  for (const secret of secrets.sort((a, b) => b.length - a.length)) {
    if (secret !== '') result = result.split(secret).join('[webhook URL]');
  }
  return result;
}

/**
 * What went wrong without the URL: the error's name or code and message along its cause chain
 * (undici's "fetch failed" says nothing until its cause: "connect ECONNREFUSED 127.0.0.1:443").
 */
export function describeFetchError(error: unknown, webhookUrl: string): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) {
      if (current.name === 'TimeoutError') parts.push('no answer before the request timeout');
      else {
        const code = (current as { code?: unknown }).code;
        parts.push(
          typeof code === 'string' && !current.message.includes(code)
            ? `${code} ${current.message}`
            : current.message,
        );
      }
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : 'unknown error');
      break;
    }
  }
  return redactWebhookUrl(parts.join(': '), webhookUrl);
}

/** Sends one message. Never throws: every outcome is a SlackAnswer. */
export async function postToWebhook(
  webhookUrl: string,
  payload: string,
  timeoutMs: number,
  now: () => number = Date.now,
): Promise<SlackAnswer> {
  try {
    const response = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: payload,
      // A redirect is not Slack's answer; following it could send the message somewhere else.
      redirect: 'manual',
      // The whole exchange, body included: a hung request must not hang the Job.
      signal: AbortSignal.timeout(timeoutMs),
    });
    // An error page can echo the request path (Express: "Cannot POST /services/T…/B…/…"): the
    // body goes to logs and the run's record, so it loses the credential first.
    const body = redactWebhookUrl(await response.text(), webhookUrl);
    return classifyAnswer(response.status, body, response.headers.get('retry-after'), now());
  } catch (error) {
    return { kind: 'network-error', description: describeFetchError(error, webhookUrl) };
  }
}

/** `404 channel_not_found`, for logs and the run's record. */
export function answerText(answer: SlackAnswer): string {
  if (answer.kind === 'accepted') return '200 ok';
  if (answer.kind === 'network-error') return `no answer: ${answer.description}`;
  return `${answer.status} ${answer.body}`.trim();
}
