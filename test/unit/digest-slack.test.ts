import { describe, expect, it } from 'vitest';
import { explainSlackFailure } from '../../src/digest/explain-slack-failure.js';
import {
  answerText,
  classifyAnswer,
  describeFetchError,
  parseRetryAfter,
  redactWebhookUrl,
} from '../../src/digest/slack-webhook.js';

const URL_ = 'https://hooks.slack.com/services/T0001/B0002/s3cr3tT0k3n';
const NOW = Date.parse('2026-06-25T07:00:00Z');

describe('classifyAnswer', () => {
  it('F15: only HTTP 200 with body ok is success', () => {
    expect(classifyAnswer(200, 'ok', null, NOW)).toEqual({ kind: 'accepted' });
    expect(classifyAnswer(200, '<html>proxy login</html>', null, NOW)).toEqual({
      kind: 'refused',
      status: 200,
      body: '<html>proxy login</html>',
    });
    expect(classifyAnswer(204, '', null, NOW).kind).toBe('refused');
    expect(classifyAnswer(302, '', null, NOW).kind).toBe('refused');
  });

  it('F15: 4xx other than 429 is refused (no retry); 5xx is a server error (retried)', () => {
    for (const [status, body] of [
      [400, 'invalid_payload'],
      [400, 'invalid_blocks'],
      [400, 'no_text'],
      [403, 'action_prohibited'],
      [404, 'channel_not_found'],
      [404, 'no_service'],
      [410, 'channel_is_archived'],
    ] as const) {
      expect(classifyAnswer(status, body, null, NOW)).toEqual({ kind: 'refused', status, body });
    }
    expect(classifyAnswer(500, 'rollup_error', null, NOW)).toEqual({
      kind: 'server-error',
      status: 500,
      body: 'rollup_error',
    });
    expect(classifyAnswer(503, '', null, NOW).kind).toBe('server-error');
  });

  it('F16: 429 carries Retry-After', () => {
    expect(classifyAnswer(429, 'rate_limited', '3', NOW)).toEqual({
      kind: 'rate-limited',
      status: 429,
      body: 'rate_limited',
      retryAfterMs: 3000,
    });
  });

  it('cuts a long body', () => {
    const answer = classifyAnswer(502, 'x'.repeat(2000), null, NOW);
    expect(answer.kind === 'server-error' && answer.body.length).toBe(501);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    expect(parseRetryAfter('3', NOW)).toBe(3000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfter('Thu, 25 Jun 2026 07:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Thu, 25 Jun 2026 06:00:00 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('soon', NOW)).toBeNull();
    expect(parseRetryAfter(null, NOW)).toBeNull();
  });
});

describe('the webhook URL never appears in a description', () => {
  it('redacts the URL and its path, wherever they appear', () => {
    expect(redactWebhookUrl(`Failed to parse URL from ${URL_}`, URL_)).toBe(
      'Failed to parse URL from [webhook URL]',
    );
    expect(redactWebhookUrl('GET /services/T0001/B0002/s3cr3tT0k3n failed', URL_)).toBe(
      'GET [webhook URL] failed',
    );
  });

  it("walks undici's cause chain, keeping codes, dropping the URL", () => {
    const cause = Object.assign(new Error(`connect ECONNREFUSED 10.0.0.1:443 (${URL_})`), {
      code: 'ECONNREFUSED',
    });
    const error = new TypeError('fetch failed', { cause });
    const text = describeFetchError(error, URL_);
    expect(text).toBe('fetch failed: connect ECONNREFUSED 10.0.0.1:443 ([webhook URL])');
    const coded = new TypeError('fetch failed', {
      cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
    });
    expect(describeFetchError(coded, URL_)).toBe('fetch failed: UND_ERR_SOCKET other side closed');
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(describeFetchError(timeout, URL_)).toBe('no answer before the request timeout');
  });
});

describe('explainSlackFailure', () => {
  const one = { seq: 1, count: 1 };
  const NEXT = 'the edges it carries are not marked as reported; the next successful run includes them';

  it('F15: 404 channel_not_found with SLACK_CHANNEL set says to unset the override', () => {
    expect(
      explainSlackFailure(
        {
          ok: false,
          attempts: 1,
          reason: 'refused',
          answer: { kind: 'refused', status: 404, body: 'channel_not_found' },
        },
        one,
        '#security',
      ),
    ).toBe(
      `Slack did not accept the digest message: 404 channel_not_found; the webhook is bound to one channel and rejects the channel override SLACK_CHANNEL=#security; unset SLACK_CHANNEL so the digest posts to the webhook's own channel; ${NEXT}`,
    );
  });

  it("404 channel_not_found without a channel: the webhook's channel is gone", () => {
    expect(
      explainSlackFailure(
        {
          ok: false,
          attempts: 1,
          reason: 'refused',
          answer: { kind: 'refused', status: 404, body: 'channel_not_found' },
        },
        { seq: 2, count: 3 },
        null,
      ),
    ).toBe(
      `Slack did not accept digest message 2/3: 404 channel_not_found; the webhook's channel no longer exists or its app was removed from it; create a new incoming webhook and update the secret that holds SLACK_WEBHOOK_URL; ${NEXT}`,
    );
  });

  it('names the attempts when retries ran out', () => {
    expect(
      explainSlackFailure(
        {
          ok: false,
          attempts: 3,
          reason: 'exhausted',
          answer: { kind: 'server-error', status: 500, body: 'rollup_error' },
        },
        one,
        null,
      ),
    ).toBe(
      `Slack did not accept the digest message: 500 rollup_error (after 3 attempts); Slack kept failing; see https://slack-status.com and rerun the Job later; ${NEXT}`,
    );
  });

  it('says what to do for each refusal', () => {
    const advice = (status: number, body: string): string => {
      const text = explainSlackFailure(
        { ok: false, attempts: 1, reason: 'refused', answer: { kind: 'refused', status, body } },
        one,
        null,
      );
      const prefix = `Slack did not accept the digest message: ${`${status} ${body}`.trim()}; `;
      expect(text.startsWith(prefix) && text.endsWith(`; ${NEXT}`)).toBe(true);
      return text.slice(prefix.length, -`; ${NEXT}`.length);
    };
    expect(advice(404, 'no_service')).toBe(
      'the webhook was revoked or disabled; create a new incoming webhook and update the secret that holds SLACK_WEBHOOK_URL',
    );
    expect(advice(403, 'action_prohibited')).toBe(
      'the workspace does not allow this webhook to post here; ask a Slack admin',
    );
    expect(advice(400, 'invalid_payload')).toBe(
      'Slack rejected the message itself, which is a bug in the digest; please report it with this log',
    );
    expect(advice(302, '')).toBe(
      'the webhook URL redirects, which Slack webhooks never do; check SLACK_WEBHOOK_URL',
    );
    expect(advice(418, "I'm a teapot")).toBe(
      'not retried: sending the same message again would get the same answer',
    );
  });

  it('answerText', () => {
    expect(answerText({ kind: 'network-error', description: 'fetch failed' })).toBe(
      'no answer: fetch failed',
    );
    expect(answerText({ kind: 'refused', status: 410, body: 'channel_is_archived' })).toBe(
      '410 channel_is_archived',
    );
  });
});
