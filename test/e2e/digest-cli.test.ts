/**
 * The digest as the runbook's CronJob runs it: the built CLI (args ["digest"]) as a subprocess,
 * against a real database and a Slack stand-in on loopback, with the production timing.
 */
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../support/cli.js';
import {
  announcedEdges,
  digestDatabase,
  digestMessages,
  digestRuns,
  insertEdges,
  logLines,
  OK,
  recordPreviousDigest,
  resetDigestTables,
  startFakeSlack,
  WEBHOOK_SECRET,
  type FakeSlack,
} from '../integration/digest-support.js';

let pool: pg.Pool;
let databaseUrl: string;
let slack: FakeSlack | null = null;

const FIXED_EDGES = [
  { src: 'web', dst: 'shop', action: 'deny', firstSeen: '2026-06-24T21:05:00Z', flowCount: '3' },
  { src: 'a-b', dst: 'x', action: 'pass', firstSeen: '2026-06-20T10:00:00Z', flowCount: '1' },
  { src: 'shop', dst: 'cache', action: 'allow', firstSeen: '2026-06-24T09:30:00Z', flowCount: '10' },
  {
    src: 'shop',
    dst: 'db',
    action: 'allow',
    firstSeen: '2026-06-24T09:31:00Z',
    flowCount: '9007199254740993',
  },
];

/** The dry-run output for FIXED_EDGES, to the byte. */
const DRY_RUN_OUTPUT =
  '{"channel":"#alerts","text":"4 new east-west edges since 2026-06-24 08:00 Europe/London, 1 denied",' +
  '"blocks":[{"type":"header","text":{"type":"plain_text","text":"New east-west edges"}},' +
  '{"type":"context","elements":[{"type":"mrkdwn","text":"*4 new edges* first recorded since 2026-06-24 08:00 Europe/London: 1 denied, 2 allowed, 1 pass · 9,007,199,254,741,007 flows so far"}]},' +
  '{"type":"section","text":{"type":"mrkdwn","text":":no_entry: *Denied*: policy dropped this traffic\\n:no_entry: `web` → `shop` · first seen 2026-06-24 22:05 · 3 flows"}},' +
  '{"type":"divider"},' +
  '{"type":"section","text":{"type":"mrkdwn","text":"*Allowed*, by source namespace\\n`a-b` →\\n• `x` _pass_ · first seen 2026-06-20 11:00 · 1 flow\\n`shop` →\\n• `cache` · first seen 2026-06-24 10:30 · 10 flows\\n• `db` · first seen 2026-06-24 10:31 · 9,007,199,254,740,993 flows"}}]}\n';

beforeAll(async () => {
  ({ pool, url: databaseUrl } = await digestDatabase('digest_cli'));
});

afterAll(async () => {
  await slack?.close();
  await pool.end();
});

beforeEach(async () => {
  await slack?.close();
  slack = null;
  await resetDigestTables(pool);
});

describe('goldmane-edge-aggregator digest', () => {
  it('DRY_RUN=1 (the runbook smoke test) prints the exact payload, byte for byte, and nothing else', async () => {
    slack = await startFakeSlack();
    await recordPreviousDigest(pool, '2026-06-24T07:00:00Z');
    await insertEdges(pool, FIXED_EDGES);
    const result = await runCli(['digest'], {
      DATABASE_URL: databaseUrl,
      SLACK_WEBHOOK_URL: slack.url,
      SLACK_CHANNEL: '#alerts',
      DIGEST_TIMEZONE: 'Europe/London',
      DRY_RUN: '1',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(DRY_RUN_OUTPUT);
    expect(slack.requests).toHaveLength(0);
    expect((await digestRuns(pool)).map((r) => r.status)).toEqual(['posted']);
    expect(logLines(result.stderr).map((l) => l.msg)).toEqual([
      'dry run: 1 message(s) printed on stdout; nothing sent, nothing recorded',
    ]);
  });

  it('posts what the dry run printed, exit 0; a retried Job then posts nothing', async () => {
    slack = await startFakeSlack();
    await recordPreviousDigest(pool, '2026-06-24T07:00:00Z');
    await insertEdges(pool, FIXED_EDGES);
    const env = {
      DATABASE_URL: databaseUrl,
      SLACK_WEBHOOK_URL: slack.url,
      SLACK_CHANNEL: '#alerts',
      DIGEST_TIMEZONE: 'Europe/London',
    };
    const first = await runCli(['digest'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('');
    expect(slack.requests.map((r) => `${r.body}\n`)).toEqual([DRY_RUN_OUTPUT]);
    const again = await runCli(['digest'], env);
    expect(again.code).toBe(0);
    expect(slack.requests).toHaveLength(1);
  });

  it('404 channel_not_found with SLACK_CHANNEL set: exit 7, says to unset it, never shows the URL', async () => {
    slack = await startFakeSlack(() => OK, { channelBound: true });
    await insertEdges(pool, [{ src: 'shop', dst: 'db' }]);
    const result = await runCli(['digest'], {
      DATABASE_URL: databaseUrl,
      SLACK_WEBHOOK_URL: slack.url,
      SLACK_CHANNEL: '#security',
    });
    expect(result.code).toBe(7);
    expect(slack.requests).toHaveLength(1);
    expect(result.stderr).toContain(
      "error [DIGEST_POST_FAILED]: Slack did not accept the digest message: 404 channel_not_found; the webhook is bound to one channel and rejects the channel override SLACK_CHANNEL=#security; unset SLACK_CHANNEL so the digest posts to the webhook's own channel;",
    );
    expect(`${result.stdout}${result.stderr}`).not.toContain(WEBHOOK_SECRET);
    expect((await digestRuns(pool)).map((r) => r.status)).toEqual(['failed']);
  });

  it('a run killed half-way continues with the messages Slack has not accepted, 1 s apart', async () => {
    // 120 new edges: three messages. Slack accepts the first; the process dies while sending the second.
    await insertEdges(
      pool,
      Array.from({ length: 120 }, (_, i) => ({
        src: `team-${i % 7}`,
        dst: `svc-${String(i).padStart(3, '0')}`,
      })),
    );
    let dying = true;
    slack = await startFakeSlack((index) =>
      !dying || index === 0 ? OK : { status: 0, body: '', hang: true },
    );
    const env = { DATABASE_URL: databaseUrl, SLACK_WEBHOOK_URL: slack.url };
    const run = startCli(['digest'], env);
    await slack.waitForRequests(2);
    run.child.kill('SIGKILL');
    expect((await run.exited).signal).toBe('SIGKILL');
    const killedAttempt = slack.requests[1]!.body;
    expect(slack.requests[1]!.at - slack.requests[0]!.at).toBeGreaterThanOrEqual(1000);
    expect((await digestMessages(pool)).map((m) => m.status)).toEqual(['accepted', 'sending', 'pending']);

    // A dry run now shows what the resumed run will send: messages 2 and 3, as planned.
    const preview = await runCli(['digest'], { ...env, DRY_RUN: '1' });
    expect(preview.code).toBe(0);
    const previewed = preview.stdout.split('\n');
    expect(previewed).toEqual([killedAttempt, expect.stringContaining('(3/3)'), '']);
    expect((await digestMessages(pool)).map((m) => m.status)).toEqual(['accepted', 'sending', 'pending']);

    dying = false;
    slack.requests.length = 0;
    const resumed = await runCli(['digest'], env);
    expect(resumed.code).toBe(0);
    // Message 2's answer was never learned: it is sent again (the documented rule), then message 3.
    expect(slack.requests.map((r) => r.body)).toEqual([killedAttempt, previewed[1]]);
    expect(slack.requests[1]!.at - slack.requests[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(logLines(resumed.stderr).map((l) => l.msg)).toEqual([
      expect.stringMatching(
        /^resuming digest run \d+, which stopped before Slack accepted all its messages$/,
      ),
      expect.stringMatching(
        /^message 2 of run \d+ was sent but its answer never recorded; sending it again \(it may appear twice\)$/,
      ),
      expect.stringMatching(/^resumed digest run \d+: sent the 2 message\(s\) Slack had not accepted$/),
    ]);
    const announced = await announcedEdges(pool);
    expect(announced).toHaveLength(120);
    expect(new Set(announced).size).toBe(120);
    expect((await digestRuns(pool)).map((r) => r.status)).toEqual(['posted']);

    const after = await runCli(['digest'], env);
    expect(after.code).toBe(0);
    expect(slack.requests).toHaveLength(2);
  });

  it('--demo-data-dir without a demo database says to run the demo first (exit 2)', async () => {
    const result = await runCli(['digest', '--demo-data-dir', '/nonexistent/demo'], { DRY_RUN: '1' });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'error [USAGE]: --demo-data-dir: no demo database in /nonexistent/demo/pgdata; run the demo first\n',
    );
  });

  it('a configuration error exits 3', async () => {
    const result = await runCli(['digest'], { DIGEST_TIMEZONE: 'Europe/Londn' });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      'error [CONFIG_INVALID]: invalid configuration (2 problems):\n' +
        '  - DATABASE_URL is not set: set it to postgres://USER:PASSWORD@HOST:5432/goldmane_edges\n' +
        '  - DIGEST_TIMEZONE: "Europe/Londn" is not an IANA timezone (e.g. Europe/London, UTC)\n',
    );
  });
});
