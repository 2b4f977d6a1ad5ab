/**
 * Issue 3 / F15 / F16: every answer a Slack incoming webhook gives, against a real stand-in on
 * loopback and a real database: the exact posts, the exit code, the waits and the watermark.
 */
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { digestWatermark } from '../../src/store/digest-store.js';
import {
  digestDatabase,
  digestMessages,
  digestRuns,
  fakeClock,
  insertEdges,
  logLines,
  OK,
  recordPreviousDigest,
  resetDigestTables,
  runDigestCommand,
  startFakeSlack,
  WEBHOOK_SECRET,
  type FakeSlack,
  type SlackReply,
} from './digest-support.js';

let pool: pg.Pool;
let databaseUrl: string;
let slack: FakeSlack | null = null;

/** The last digest before the test: its end is the "since" of the next message. */
const PREVIOUS_DIGEST_END = new Date('2026-06-24T07:00:00Z');

const BLOCKS =
  '"blocks":[{"type":"header","text":{"type":"plain_text","text":"New east-west edges"}},' +
  '{"type":"context","elements":[{"type":"mrkdwn","text":"*2 new edges* first recorded since 2026-06-24 07:00 UTC: 1 denied, 1 allowed · 12 flows so far"}]},' +
  '{"type":"section","text":{"type":"mrkdwn","text":":no_entry: *Denied*: policy dropped this traffic\\n:no_entry: `web` → `shop` · first seen 2026-06-24 21:05 · 3 flows"}},' +
  '{"type":"divider"},' +
  '{"type":"section","text":{"type":"mrkdwn","text":"*Allowed*, by source namespace\\n`shop` →\\n• `db` · first seen 2026-06-24 09:31 · 9 flows"}}]}';
const TEXT = '"text":"2 new east-west edges since 2026-06-24 07:00 UTC, 1 denied"';
const PAYLOAD = `{${TEXT},${BLOCKS}`;
const PAYLOAD_WITH_CHANNEL = `{"channel":"#alerts",${TEXT},${BLOCKS}`;

beforeAll(async () => {
  ({ pool, url: databaseUrl } = await digestDatabase('digest_answers'));
});

afterAll(async () => {
  await pool.end();
});

beforeEach(async () => {
  await slack?.close();
  slack = null;
  await resetDigestTables(pool);
  await recordPreviousDigest(pool, PREVIOUS_DIGEST_END.toISOString());
  await insertEdges(pool, [
    { src: 'web', dst: 'shop', action: 'deny', firstSeen: '2026-06-24T21:05:00Z', flowCount: '3' },
    { src: 'shop', dst: 'db', action: 'allow', firstSeen: '2026-06-24T09:31:00Z', flowCount: '9' },
  ]);
});

interface Case {
  readonly name: string;
  readonly replies: readonly SlackReply[];
  readonly channel?: string;
  readonly channelBound?: boolean;
  readonly posts: number;
  readonly payload?: string;
  readonly code: number;
  readonly sleeps: readonly number[];
  readonly lastAnswer: string;
  /** In the `error [DIGEST_POST_FAILED]` line. */
  readonly error?: string;
}

const REFUSED_NEXT = 'the edges it carries are not marked as reported; the next successful run includes them';

const CASES: readonly Case[] = [
  { name: '200 ok', replies: [OK], posts: 1, code: 0, sleeps: [], lastAnswer: '200 ok' },
  {
    name: '400 invalid_blocks',
    replies: [{ status: 400, body: 'invalid_blocks' }],
    posts: 1,
    code: 7,
    sleeps: [],
    lastAnswer: '400 invalid_blocks',
    error: `error [DIGEST_POST_FAILED]: Slack did not accept the digest message: 400 invalid_blocks; Slack rejected the message itself, which is a bug in the digest; please report it with this log; ${REFUSED_NEXT}`,
  },
  {
    name: '400 no_text',
    replies: [{ status: 400, body: 'no_text' }],
    posts: 1,
    code: 7,
    sleeps: [],
    lastAnswer: '400 no_text',
    error: `error [DIGEST_POST_FAILED]: Slack did not accept the digest message: 400 no_text; Slack rejected the message itself, which is a bug in the digest; please report it with this log; ${REFUSED_NEXT}`,
  },
  {
    name: '404 channel_not_found with SLACK_CHANNEL set (a channel-bound webhook)',
    replies: [],
    channel: '#alerts',
    channelBound: true,
    posts: 1,
    payload: PAYLOAD_WITH_CHANNEL,
    code: 7,
    sleeps: [],
    lastAnswer: '404 channel_not_found',
    error: `error [DIGEST_POST_FAILED]: Slack did not accept the digest message: 404 channel_not_found; the webhook is bound to one channel and rejects the channel override SLACK_CHANNEL=#alerts; unset SLACK_CHANNEL so the digest posts to the webhook's own channel; ${REFUSED_NEXT}`,
  },
  {
    name: '404 channel_not_found without a channel',
    replies: [{ status: 404, body: 'channel_not_found' }],
    posts: 1,
    code: 7,
    sleeps: [],
    lastAnswer: '404 channel_not_found',
    error: `error [DIGEST_POST_FAILED]: Slack did not accept the digest message: 404 channel_not_found; the webhook's channel no longer exists or its app was removed from it; create a new incoming webhook and update the secret that holds SLACK_WEBHOOK_URL; ${REFUSED_NEXT}`,
  },
  {
    name: '410 channel_is_archived',
    replies: [{ status: 410, body: 'channel_is_archived' }],
    posts: 1,
    code: 7,
    sleeps: [],
    lastAnswer: '410 channel_is_archived',
    error: `error [DIGEST_POST_FAILED]: Slack did not accept the digest message: 410 channel_is_archived; the webhook's channel is archived; unarchive it or create a webhook for another channel; ${REFUSED_NEXT}`,
  },
  {
    name: '429 with Retry-After: 3, then 200 ok (the same message again, 3 s later)',
    replies: [{ status: 429, body: 'rate_limited', headers: { 'retry-after': '3' } }, OK],
    posts: 2,
    code: 0,
    sleeps: [3000],
    lastAnswer: '200 ok',
  },
  {
    name: '500 rollup_error, then 200 ok',
    replies: [{ status: 500, body: 'rollup_error' }, OK],
    posts: 2,
    code: 0,
    sleeps: [2000],
    lastAnswer: '200 ok',
  },
  {
    name: '500 rollup_error forever (3 attempts, backing off 2 s then 4 s)',
    replies: [{ status: 500, body: 'rollup_error' }],
    posts: 3,
    code: 7,
    sleeps: [2000, 4000],
    lastAnswer: '500 rollup_error',
    error: `error [DIGEST_POST_FAILED]: Slack did not accept the digest message: 500 rollup_error (after 3 attempts); Slack kept failing; see https://slack-status.com and rerun the Job later; ${REFUSED_NEXT}`,
  },
  {
    name: '429 forever (3 tries)',
    replies: [{ status: 429, body: 'rate_limited', headers: { 'retry-after': '1' } }],
    posts: 3,
    code: 7,
    sleeps: [1000, 1000],
    lastAnswer: '429 rate_limited',
  },
  {
    name: '429 asking for an hour (given up at once: the next run reports)',
    replies: [{ status: 429, body: 'rate_limited', headers: { 'retry-after': '3600' } }],
    posts: 1,
    code: 7,
    sleeps: [],
    lastAnswer: '429 rate_limited',
    error: `error [DIGEST_POST_FAILED]: Slack did not accept the digest message: 429 rate_limited; Slack asked to wait longer than this Job waits; rerun it later; ${REFUSED_NEXT}`,
  },
  {
    name: 'connection dropped without an answer, every time (a network error)',
    replies: [{ status: 0, body: '', destroy: true }],
    posts: 3,
    code: 7,
    sleeps: [2000, 4000],
    lastAnswer: 'no answer: fetch failed: UND_ERR_SOCKET other side closed',
  },
];

describe('the digest against each Slack answer', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.posts} post(s), exit ${c.code}`, async () => {
      slack = await startFakeSlack((index) => c.replies[Math.min(index, c.replies.length - 1)] ?? OK, {
        channelBound: c.channelBound ?? false,
      });
      const clock = fakeClock();
      const env: Record<string, string> = { DATABASE_URL: databaseUrl, SLACK_WEBHOOK_URL: slack.url };
      if (c.channel !== undefined) env.SLACK_CHANNEL = c.channel;

      const result = await runDigestCommand(env, { clock });

      expect(result.code).toBe(c.code);
      expect(slack.requests.map((r) => r.body)).toEqual(Array(c.posts).fill(c.payload ?? PAYLOAD));
      expect(slack.requests.every((r) => r.contentType === 'application/json; charset=utf-8')).toBe(true);
      expect(clock.sleeps).toEqual(c.sleeps);
      expect(result.stdout).toBe('');
      // The secret is in no output, on any path.
      expect(result.stderr).not.toContain(WEBHOOK_SECRET);
      expect(result.stderr).not.toContain(slack.url);

      const runs = await digestRuns(pool);
      expect(runs).toHaveLength(2);
      const run = runs[1]!;
      const [message] = await digestMessages(pool);
      expect(message).toEqual({
        run_id: run.id,
        seq: 1,
        status: c.code === 0 ? 'accepted' : 'failed',
        attempts: c.posts,
        last_answer: c.lastAnswer,
      });
      expect(run.window_from).toEqual(PREVIOUS_DIGEST_END);
      if (c.code === 0) {
        expect(run.status).toBe('posted');
        expect(await digestWatermark(pool)).toEqual(run.window_to);
        expect(run.window_to.getTime()).toBeGreaterThan(PREVIOUS_DIGEST_END.getTime());
      } else {
        // The watermark does not move: the next run reports these edges.
        expect(run.status).toBe('failed');
        expect(await digestWatermark(pool)).toEqual(PREVIOUS_DIGEST_END);
        const errorLine = result.stderr.split('\n').find((line) => line.startsWith('error ['));
        if (c.error !== undefined) expect(errorLine).toBe(c.error);
        else
          expect(errorLine).toMatch(
            /^error \[DIGEST_POST_FAILED\]: Slack did not accept the digest message: /,
          );
        expect(run.error).toBe(errorLine!.slice('error [DIGEST_POST_FAILED]: '.length));
        // The status and body are logged.
        const logged = logLines(result.stderr).find(
          (line) => line.msg === 'Slack did not accept the digest message',
        );
        expect(logged).toBeDefined();
        if (c.lastAnswer.startsWith('no answer'))
          expect(logged!.error).toBe('fetch failed: UND_ERR_SOCKET other side closed');
        else expect(`${String(logged!.status)} ${String(logged!.body)}`).toBe(c.lastAnswer);
      }
    });
  }

  it('after a refused post, the next run reports the same edges, and only then the watermark moves', async () => {
    slack = await startFakeSlack((index) =>
      index === 0 ? { status: 410, body: 'channel_is_archived' } : OK,
    );
    const env = { DATABASE_URL: databaseUrl, SLACK_WEBHOOK_URL: slack.url };
    expect((await runDigestCommand(env)).code).toBe(7);
    expect(await digestWatermark(pool)).toEqual(PREVIOUS_DIGEST_END);
    expect((await runDigestCommand(env)).code).toBe(0);
    expect(slack.requests.map((r) => r.body)).toEqual([PAYLOAD, PAYLOAD]);
    const runs = await digestRuns(pool);
    expect(runs.map((r) => r.status)).toEqual(['posted', 'failed', 'posted']);
    expect(await digestWatermark(pool)).toEqual(runs[2]!.window_to);
  });

  it('Slack not listening at all: exit 7 after 3 attempts, and the URL is in no output', async () => {
    const closed = await startFakeSlack();
    const url = closed.url;
    await closed.close();
    const clock = fakeClock();
    const result = await runDigestCommand({ DATABASE_URL: databaseUrl, SLACK_WEBHOOK_URL: url }, { clock });
    expect(result.code).toBe(7);
    expect(clock.sleeps).toEqual([2000, 4000]);
    expect(result.stderr).toMatch(
      /error \[DIGEST_POST_FAILED\]: Slack did not accept the digest message: no answer: fetch failed: .*ECONNREFUSED.* \(after 3 attempts\); Slack could not be reached; check the network path/,
    );
    expect(result.stderr).not.toContain(WEBHOOK_SECRET);
    expect(result.stderr).not.toContain('/services/');
    expect(await digestWatermark(pool)).toEqual(PREVIOUS_DIGEST_END);
  });
});
