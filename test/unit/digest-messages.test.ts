import { describe, expect, it } from 'vitest';
import {
  buildDigestMessages,
  MESSAGE_MAX_CHARS,
  slackLimitProblems,
  SLACK_MAX_BLOCKS,
  SLACK_MAX_TEXT_CHARS,
  type SlackPayload,
} from '../../src/digest/build-digest-messages.js';
import { formatCount, formatInZone } from '../../src/digest/format-in-zone.js';
import type { DigestEdge, DigestWindow } from '../../src/store/digest-store.js';

const WINDOW: DigestWindow = {
  from: new Date('2026-06-24T07:00:00Z'),
  to: new Date('2026-06-25T07:00:00Z'),
  firstRun: false,
};
const LONDON = { timeZone: 'Europe/London', channel: null };

function edge(src: string, dst: string, action = 'allow', flowCount = 1n): DigestEdge {
  return { src, dst, action, firstSeen: new Date('2026-06-24T09:30:00Z'), flowCount };
}

/** Every text object of a payload. */
function texts(payload: SlackPayload): string[] {
  return payload.blocks.flatMap((block) =>
    block.type === 'context'
      ? block.elements.map((e) => e.text)
      : block.type === 'divider'
        ? []
        : [block.text.text],
  );
}

/** n edges as the store orders them (src, dst, action), names padded so that order is plain. */
function manyEdges(n: number, name: (i: number) => [string, string]): DigestEdge[] {
  return Array.from({ length: n }, (_, i) => edge(...name(i)));
}

describe('buildDigestMessages', () => {
  it('renders a fixed set of edges exactly: denied first and marked, the rest grouped by source', () => {
    const edges: DigestEdge[] = [
      { src: 'web', dst: 'shop', action: 'deny', firstSeen: new Date('2026-06-24T21:05:00Z'), flowCount: 3n },
      { src: 'a-b', dst: 'x', action: 'pass', firstSeen: new Date('2026-06-20T10:00:00Z'), flowCount: 1n },
      {
        src: 'shop',
        dst: 'cache',
        action: 'allow',
        firstSeen: new Date('2026-06-24T09:30:00Z'),
        flowCount: 10n,
      },
      { src: 'shop', dst: 'db', action: 'allow', firstSeen: new Date('2026-06-24T09:31:00Z'), flowCount: 9n },
    ];
    const messages = buildDigestMessages(WINDOW, edges, LONDON);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.body).toEqual({
      text: '4 new east-west edges since 2026-06-24 08:00 Europe/London, 1 denied',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'New east-west edges' } },
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: '*4 new edges* first recorded since 2026-06-24 08:00 Europe/London: 1 denied, 2 allowed, 1 pass · 23 flows so far',
            },
          ],
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: ':no_entry: *Denied*: policy dropped this traffic\n:no_entry: `web` → `shop` · first seen 2026-06-24 22:05 · 3 flows',
          },
        },
        { type: 'divider' },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: '*Allowed*, by source namespace\n`a-b` →\n• `x` _pass_ · first seen 2026-06-20 11:00 · 1 flow\n`shop` →\n• `cache` · first seen 2026-06-24 10:30 · 10 flows\n• `db` · first seen 2026-06-24 10:31 · 9 flows',
          },
        },
      ],
    });
    expect(messages[0]!.payload).toBe(JSON.stringify(messages[0]!.body));
    expect(messages[0]!.edges).toEqual(edges.map(({ src, dst, action }) => ({ src, dst, action })));
  });

  it('never sets username or icon_*; sets channel only when SLACK_CHANNEL is set', () => {
    const [plain] = buildDigestMessages(WINDOW, [edge('a', 'b')], LONDON);
    expect(Object.keys(JSON.parse(plain!.payload) as object)).toEqual(['text', 'blocks']);
    const [withChannel] = buildDigestMessages(WINDOW, [edge('a', 'b')], { ...LONDON, channel: '#alerts' });
    expect(Object.keys(JSON.parse(withChannel!.payload) as object)).toEqual(['channel', 'text', 'blocks']);
    expect(withChannel!.body.channel).toBe('#alerts');
  });

  it('says when it is the first digest', () => {
    const [message] = buildDigestMessages({ ...WINDOW, firstRun: true }, [edge('a', 'b')], LONDON);
    expect(texts(message!.body)[1]).toBe(
      '*1 new edge* first recorded since 2026-06-24 08:00 Europe/London (first digest): 0 denied, 1 allowed · 1 flow so far',
    );
  });

  it('splits 120 new edges into (1/3) (2/3) (3/3), within the limits, every edge once and in order', () => {
    const edges = manyEdges(120, (i) => [
      `src-${String(Math.floor(i / 7)).padStart(3, '0')}`,
      `dst-${String(i).padStart(3, '0')}`,
    ]);
    const messages = buildDigestMessages(WINDOW, edges, LONDON);
    expect(messages.map((m) => m.edges.length)).toEqual([50, 50, 20]);
    expect(messages.map((m) => m.body.text)).toEqual([
      '120 new east-west edges since 2026-06-24 08:00 Europe/London (1/3)',
      '120 new east-west edges since 2026-06-24 08:00 Europe/London (2/3)',
      '120 new east-west edges since 2026-06-24 08:00 Europe/London (3/3)',
    ]);
    expect(messages.map((m) => texts(m.body)[0])).toEqual([
      'New east-west edges (1/3)',
      'New east-west edges (2/3)',
      'New east-west edges (3/3)',
    ]);
    expect(texts(messages[2]!.body)[1]).toContain('· this message: edges 101–120');
    expect(messages.flatMap((m) => m.edges)).toEqual(
      edges.map(({ src, dst, action }) => ({ src, dst, action })),
    );
    // Each edge's line appears in exactly one message, the one that carries it.
    for (const e of edges) {
      const holders = messages.filter((m) => m.payload.includes(`\`${e.dst}\``));
      expect(holders).toHaveLength(1);
    }
    for (const message of messages) {
      expect(slackLimitProblems(message.body)).toEqual([]);
      expect(message.body.blocks.length).toBeLessThanOrEqual(SLACK_MAX_BLOCKS);
      for (const text of texts(message.body)) expect(text.length).toBeLessThanOrEqual(SLACK_MAX_TEXT_CHARS);
      expect(message.payload.length).toBeLessThan(40_000 / 2);
    }
  });

  it('keeps each text object within 3000 characters with 63-character names from one source', () => {
    const long = (s: string, i: number): string => `${s}${String(i).padStart(4, '0')}`.padEnd(63, 'x');
    const edges = manyEdges(300, (i) => [long('source', 0), long('destination', i)]);
    const messages = buildDigestMessages(WINDOW, edges, LONDON);
    expect(messages.flatMap((m) => m.edges)).toHaveLength(300);
    for (const message of messages) {
      expect(slackLimitProblems(message.body)).toEqual([]);
      const sections = message.body.blocks.filter((b) => b.type === 'section');
      expect(sections.length).toBeGreaterThan(1);
      // A group that spills into the next section repeats its heading.
      for (const section of sections)
        expect(section.text.text).toMatch(/^(\*Allowed\*, by source namespace\n)?`source0000x+` →\n/);
    }
  });

  it('keeps at most 50 blocks when every edge has its own source namespace', () => {
    const edges = manyEdges(400, (i) => [`ns-${String(i).padStart(4, '0')}`, 'db']);
    const messages = buildDigestMessages(WINDOW, edges, LONDON);
    expect(messages.flatMap((m) => m.edges)).toHaveLength(400);
    for (const message of messages) {
      expect(message.body.blocks.length).toBeLessThanOrEqual(SLACK_MAX_BLOCKS);
      expect(slackLimitProblems(message.body)).toEqual([]);
    }
  });

  it('F10: totals int8 flow counts exactly (9 + 10 = 19; 2^53+1 is not rounded)', () => {
    const [small] = buildDigestMessages(
      WINDOW,
      [edge('a', 'b', 'allow', 9n), edge('c', 'd', 'allow', 10n)],
      LONDON,
    );
    expect(texts(small!.body)[1]).toContain('· 19 flows so far');
    const [big] = buildDigestMessages(WINDOW, [edge('a', 'b', 'allow', 9007199254740993n)], LONDON);
    expect(texts(big!.body)[2]).toContain('· 9,007,199,254,740,993 flows');
  });

  it("escapes Slack's control characters in names", () => {
    const [message] = buildDigestMessages(WINDOW, [edge('a<b>', 'c&d')], LONDON);
    expect(texts(message!.body)[2]).toBe(
      '*Allowed*, by source namespace\n`a&lt;b&gt;` →\n• `c&amp;d` · first seen 2026-06-24 10:30 · 1 flow',
    );
  });
});

describe('slackLimitProblems', () => {
  it('names what Slack would refuse', () => {
    const section = (text: string) => ({ type: 'section' as const, text: { type: 'mrkdwn' as const, text } });
    expect(slackLimitProblems({ text: '', blocks: [] })).toEqual(['no top-level text']);
    expect(slackLimitProblems({ text: 'x', blocks: Array.from({ length: 51 }, () => section('a')) })).toEqual(
      ['51 blocks'],
    );
    expect(slackLimitProblems({ text: 'x', blocks: [section('a'.repeat(3001))] })).toEqual([
      'a section text of 3001 characters',
    ]);
    expect(
      slackLimitProblems({ text: 'x', blocks: Array.from({ length: 5 }, () => section('a'.repeat(3000))) }),
    ).toEqual([`${1 + 5 * 3000} characters in all`]);
    expect(MESSAGE_MAX_CHARS).toBeLessThan(40_000);
  });
});

describe('formatInZone', () => {
  it('F17: prints in the display zone across the DST change, never in local time', () => {
    expect(formatInZone(new Date('2025-03-30T00:30:00Z'), 'Europe/London')).toBe('2025-03-30 00:30');
    expect(formatInZone(new Date('2025-03-30T01:30:00Z'), 'Europe/London')).toBe('2025-03-30 02:30');
    expect(formatInZone(new Date('2025-03-30T01:30:00Z'), 'Europe/Berlin')).toBe('2025-03-30 03:30');
    expect(formatInZone(new Date('2025-03-30T01:30:00Z'), 'UTC')).toBe('2025-03-30 01:30');
    expect(formatInZone(new Date('2025-12-31T23:59:00Z'), 'Asia/Tokyo')).toBe('2026-01-01 08:59');
  });
});

describe('formatCount', () => {
  it('groups digits of any int8 exactly', () => {
    expect(formatCount(0n)).toBe('0');
    expect(formatCount(999n)).toBe('999');
    expect(formatCount(1000n)).toBe('1,000');
    expect(formatCount(9007199254740993n)).toBe('9,007,199,254,740,993');
    expect(formatCount(9223372036854775807n)).toBe('9,223,372,036,854,775,807');
  });
});
