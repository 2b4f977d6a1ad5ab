/**
 * Issue 3 / F16 / F17: which edges a run reports, across runs: quiet days, big days, skipped days,
 * retried Jobs, backfills, the first run, a concurrent run, a dry run.
 */
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SLACK_MAX_BLOCKS, SLACK_MAX_TEXT_CHARS } from '../../src/digest/build-digest-messages.js';
import { digestWatermark } from '../../src/store/digest-store.js';
import {
  announcedEdges,
  digestDatabase,
  digestMessages,
  digestRuns,
  fakeClock,
  insertEdges,
  logLines,
  resetDigestTables,
  runDigestCommand,
  shiftHistory,
  startFakeSlack,
  type FakeSlack,
  type SlackRequest,
} from './digest-support.js';

let pool: pg.Pool;
let databaseUrl: string;
let slack: FakeSlack;
let env: Record<string, string>;

beforeAll(async () => {
  ({ pool, url: databaseUrl } = await digestDatabase('digest_runs'));
});

afterAll(async () => {
  await pool.end();
});

beforeEach(async () => {
  await slack?.close();
  slack = await startFakeSlack();
  env = { DATABASE_URL: databaseUrl, SLACK_WEBHOOK_URL: slack.url };
  await resetDigestTables(pool);
});

/** "src>dst:action" of every edge line in the posted messages, in order. */
function postedEdges(requests: readonly SlackRequest[]): string[] {
  const keys: string[] = [];
  for (const request of requests) {
    let group = '';
    for (const block of request.json.blocks as { type: string; text?: { text: string } }[]) {
      if (block.type !== 'section') continue;
      for (const line of block.text!.text.split('\n')) {
        const denied = /^:no_entry: `([^`]+)` → `([^`]+)`/.exec(line);
        const heading = /^`([^`]+)` →$/.exec(line);
        const other = /^• `([^`]+)`(?: _(\w+)_)?/.exec(line);
        if (denied !== null) keys.push(`${denied[1]}>${denied[2]}:deny`);
        else if (heading !== null) group = heading[1]!;
        else if (other !== null) keys.push(`${group}>${other[1]}:${other[2] ?? 'allow'}`);
      }
    }
  }
  return keys;
}

describe('which edges a digest reports', () => {
  it('quiet when none: no HTTP request at all, exit 0, one log line; the watermark moves', async () => {
    const result = await runDigestCommand(env);
    expect(result.code).toBe(0);
    expect(slack.requests).toHaveLength(0);
    expect(result.stdout).toBe('');
    const lines = logLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe('info');
    expect(lines[0]!.msg).toMatch(/^no new edges since \d{4}-\d\d-\d\d \d\d:\d\d UTC; nothing posted$/);
    const runs = await digestRuns(pool);
    expect(runs.map((r) => [r.status, r.edge_count, r.message_count])).toEqual([['empty', 0, 0]]);
    expect(await digestWatermark(pool)).toEqual(runs[0]!.window_to);
    // The first run's window: DIGEST_FIRST_RUN_WINDOW (24h) before it.
    expect(runs[0]!.window_to.getTime() - runs[0]!.window_from.getTime()).toBe(86_400_000);
  });

  it('120 new edges: 3 numbered messages 1 s apart, within the limits, every edge once, in order', async () => {
    const edges = Array.from({ length: 120 }, (_, i) => ({
      src: `team-${String(i % 9).padStart(2, '0')}`,
      dst: `svc-${String(i).padStart(3, '0')}`,
      action: i % 10 === 0 ? 'deny' : 'allow',
    }));
    await insertEdges(pool, edges);
    const clock = fakeClock();
    const result = await runDigestCommand(env, { clock });
    expect(result.code).toBe(0);
    expect(slack.requests).toHaveLength(3);
    expect(clock.sleeps).toEqual([1000, 1000]);
    expect(slack.requests.map((r) => r.json.text)).toEqual([
      expect.stringMatching(/^120 new east-west edges since .* UTC, 12 denied \(1\/3\)$/),
      expect.stringMatching(/\(2\/3\)$/),
      expect.stringMatching(/\(3\/3\)$/),
    ]);
    // Denied first, then (src, dst, action).
    const key = (e: { src: string; dst: string; action: string }): string => `${e.src}>${e.dst}:${e.action}`;
    const order = (a: (typeof edges)[number], b: (typeof edges)[number]): number =>
      Number(b.action === 'deny') - Number(a.action === 'deny') || (key(a) < key(b) ? -1 : 1);
    const expected = [...edges].sort(order).map(key);
    expect(postedEdges(slack.requests)).toEqual(expected);
    expect(await announcedEdges(pool)).toEqual(expected);
    for (const request of slack.requests) {
      const blocks = request.json.blocks as { text?: { text: string }; elements?: { text: string }[] }[];
      expect(blocks.length).toBeLessThanOrEqual(SLACK_MAX_BLOCKS);
      for (const block of blocks) {
        for (const t of [block.text, ...(block.elements ?? [])]) {
          if (t !== undefined) expect(t.text.length).toBeLessThanOrEqual(SLACK_MAX_TEXT_CHARS);
        }
      }
      expect(request.body.length).toBeLessThan(20_000);
    }
    expect((await digestMessages(pool)).map((m) => [m.seq, m.status, m.attempts])).toEqual([
      [1, 'accepted', 1],
      [2, 'accepted', 1],
      [3, 'accepted', 1],
    ]);
  });

  it('F16: the 2nd of 3 messages gets 429 Retry-After: 3; the same message is resent 3 s later', async () => {
    await slack.close();
    slack = await startFakeSlack((index) =>
      index === 1
        ? { status: 429, body: 'rate_limited', headers: { 'retry-after': '3' } }
        : { status: 200, body: 'ok' },
    );
    env.SLACK_WEBHOOK_URL = slack.url;
    await insertEdges(
      pool,
      Array.from({ length: 120 }, (_, i) => ({ src: 'shop', dst: `svc-${String(i).padStart(3, '0')}` })),
    );
    const clock = fakeClock();
    expect((await runDigestCommand(env, { clock })).code).toBe(0);
    const bodies = slack.requests.map((r) => r.body);
    expect(bodies).toHaveLength(4);
    expect(bodies[2]).toBe(bodies[1]);
    expect(bodies.map((b) => /\((\d)\/3\)"/.exec(b)?.[1])).toEqual(['1', '2', '2', '3']);
    expect(clock.sleeps).toEqual([1000, 3000, 1000]);
    expect((await digestMessages(pool)).map((m) => [m.seq, m.status, m.attempts])).toEqual([
      [1, 'accepted', 1],
      [2, 'accepted', 2],
      [3, 'accepted', 1],
    ]);
    expect(new Set(await announcedEdges(pool)).size).toBe(120);
  });

  it('two runs in a row on the same data: exactly one POST (a retried Job posts nothing again)', async () => {
    await insertEdges(pool, [{ src: 'shop', dst: 'db' }]);
    expect((await runDigestCommand(env)).code).toBe(0);
    const second = await runDigestCommand(env);
    expect(second.code).toBe(0);
    expect(slack.requests).toHaveLength(1);
    expect((await digestRuns(pool)).map((r) => r.status)).toEqual(['posted', 'empty']);
  });

  it('F17: a skipped day: the next run reports both days, each edge once', async () => {
    // Day 0: a digest reports one edge.
    await insertEdges(pool, [{ src: 'day0', dst: 'db' }]);
    expect((await runDigestCommand(env)).code).toBe(0);
    // Move it all two days back; day 1's edges arrive, and day 1's run never happens.
    await shiftHistory(pool, '48 hours');
    await insertEdges(pool, [
      { src: 'day1', dst: 'db', recordedAgo: '30 hours' },
      { src: 'day1', dst: 'cache', action: 'deny', recordedAgo: '26 hours' },
    ]);
    // Day 2.
    await insertEdges(pool, [{ src: 'day2', dst: 'db', recordedAgo: '2 hours' }]);
    expect((await runDigestCommand(env)).code).toBe(0);
    expect(slack.requests).toHaveLength(2);
    expect(postedEdges(slack.requests.slice(1))).toEqual([
      'day1>cache:deny',
      'day1>db:allow',
      'day2>db:allow',
    ]);
    expect((await announcedEdges(pool)).sort()).toEqual(
      ['day0>db:allow', 'day1>cache:deny', 'day1>db:allow', 'day2>db:allow'].sort(),
    );
    const runs = await digestRuns(pool);
    // The second run's window starts where the first ended, two days ago.
    expect(runs[1]!.window_from).toEqual(runs[0]!.window_to);
    expect(runs[1]!.window_to.getTime() - runs[1]!.window_from.getTime()).toBeGreaterThan(47 * 3_600_000);
  });

  it('an edge backfilled with an old first_seen after the last digest is reported by the next run', async () => {
    await insertEdges(pool, [{ src: 'shop', dst: 'db' }]);
    expect((await runDigestCommand(env)).code).toBe(0);
    // The aggregator was down for days and caught up: first_seen is ten days old, recorded now.
    await insertEdges(pool, [{ src: 'batch', dst: 'db', firstSeen: '2026-06-14T03:00:00Z', flowCount: '4' }]);
    expect((await runDigestCommand(env)).code).toBe(0);
    expect(slack.requests).toHaveLength(2);
    expect(postedEdges(slack.requests.slice(1))).toEqual(['batch>db:allow']);
    expect(slack.requests[1]!.body).toContain('• `db` · first seen 2026-06-14 03:00 · 4 flows');
  });

  it('an edge committed late with a recorded_at below the watermark is still reported, once', async () => {
    await insertEdges(pool, [{ src: 'shop', dst: 'db' }]);
    expect((await runDigestCommand(env)).code).toBe(0);
    // An aggregator transaction that began before the digest's now() and committed after it.
    await insertEdges(pool, [{ src: 'slow', dst: 'db', recordedAgo: '5 minutes' }]);
    expect((await runDigestCommand(env)).code).toBe(0);
    expect((await runDigestCommand(env)).code).toBe(0);
    expect(postedEdges(slack.requests)).toEqual(['shop>db:allow', 'slow>db:allow']);
  });

  it('the first run reports DIGEST_FIRST_RUN_WINDOW (24h) back, not the older history', async () => {
    await insertEdges(pool, [
      { src: 'old', dst: 'db', recordedAgo: '25 hours' },
      { src: 'recent', dst: 'db', recordedAgo: '23 hours' },
    ]);
    expect((await runDigestCommand(env)).code).toBe(0);
    expect(postedEdges(slack.requests)).toEqual(['recent>db:allow']);
    expect(slack.requests[0]!.body).toContain('(first digest)');
    // And a first run with a 48h window would have taken both.
    await pool.query('TRUNCATE digest_edge, digest_message, digest_run');
    expect((await runDigestCommand({ ...env, DIGEST_FIRST_RUN_WINDOW: '48h' })).code).toBe(0);
    expect(postedEdges(slack.requests.slice(1))).toEqual(['old>db:allow', 'recent>db:allow']);
  });

  it('orders by byte value, whatever the database locale; F10: int8 counts exact', async () => {
    await insertEdges(pool, [
      { src: 'ab', dst: 'x', flowCount: '9' },
      { src: 'a-c', dst: 'x', flowCount: '10' },
      { src: 'big', dst: 'x', flowCount: '9007199254740993' },
    ]);
    expect((await runDigestCommand({ ...env, DIGEST_TIMEZONE: 'Europe/London' })).code).toBe(0);
    expect(postedEdges(slack.requests)).toEqual(['a-c>x:allow', 'ab>x:allow', 'big>x:allow']);
    expect(slack.requests[0]!.body).toContain('• `x` · first seen');
    expect(slack.requests[0]!.body).toContain(' · 9,007,199,254,740,993 flows');
    expect(slack.requests[0]!.body).toContain(' · 9,007,199,254,741,012 flows so far');
  });

  it('while another digest holds the lock, a second one posts nothing and exits 0', async () => {
    await insertEdges(pool, [{ src: 'shop', dst: 'db' }]);
    const other = new pg.Client({ connectionString: databaseUrl });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock(7201554302)');
      const result = await runDigestCommand(env);
      expect(result.code).toBe(0);
      expect(slack.requests).toHaveLength(0);
      expect(logLines(result.stderr).map((l) => l.msg)).toEqual([
        'another digest run is in progress (it holds the digest lock); this one does nothing',
      ]);
    } finally {
      await other.end();
    }
    expect((await runDigestCommand(env)).code).toBe(0);
    expect(slack.requests).toHaveLength(1);
  });

  it('DRY_RUN=1 prints the payloads, sends nothing and records nothing', async () => {
    await insertEdges(pool, [{ src: 'shop', dst: 'db' }]);
    const result = await runDigestCommand({ ...env, DRY_RUN: '1' });
    expect(result.code).toBe(0);
    expect(slack.requests).toHaveLength(0);
    expect(await digestRuns(pool)).toEqual([]);
    const printed = result.stdout.split('\n');
    expect(printed).toHaveLength(2);
    expect(printed[1]).toBe('');
    expect(postedEdges([{ json: JSON.parse(printed[0]!) } as SlackRequest])).toEqual(['shop>db:allow']);
    // The real run then posts exactly what the dry run printed.
    expect((await runDigestCommand(env)).code).toBe(0);
    expect(slack.requests.map((r) => r.body)).toEqual([printed[0]]);
  });

  it('an empty SLACK_WEBHOOK_URL forces a dry run, with a warning on stderr', async () => {
    await insertEdges(pool, [{ src: 'shop', dst: 'db' }]);
    const result = await runDigestCommand({ DATABASE_URL: databaseUrl, SLACK_WEBHOOK_URL: '' });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\{"text":"1 new east-west edge since .*\n$/);
    expect(logLines(result.stderr)[0]).toMatchObject({
      level: 'warn',
      msg: 'SLACK_WEBHOOK_URL is empty: dry run, nothing is posted (set DRY_RUN=1 to say so and silence this)',
    });
    expect(await digestRuns(pool)).toEqual([]);
  });

  it('a configuration error exits 3 and lists every problem', async () => {
    const result = await runDigestCommand({
      SLACK_WEBHOOK_URL: 'ftp://x/T1/B2/s3cr3t',
      DIGEST_TIMEZONE: 'Nowhere',
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('error [CONFIG_INVALID]: invalid configuration (3 problems):');
    expect(result.stderr).not.toContain('s3cr3t');
  });
});
