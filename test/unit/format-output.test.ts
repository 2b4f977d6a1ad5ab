import { describe, expect, it } from 'vitest';
import { toCsv } from '../../src/cli/format/csv.js';
import { renderEdges, renderPeers } from '../../src/cli/format/edge-output.js';
import { renderTextTable } from '../../src/cli/format/text-table.js';
import { toJson } from '../../src/cli/format/to-json.js';
import type { Page, Peer, TrailEdge } from '../../src/store/trail-queries.js';
import { parseCsv } from '../support/csv-parse.js';

const T = new Date('2026-06-01T08:00:00.123Z');

const PAGE: Page<TrailEdge> = {
  rows: [
    { src: 'shop', dst: 'dbaas', action: 'allow', firstSeen: T, lastSeen: T, flowCount: 9007199254740993n },
    { src: 'shop', dst: 'payments', action: 'deny', firstSeen: null, lastSeen: T, flowCount: 10n },
    { src: 'a', dst: 'b', action: 'allow', firstSeen: T, lastSeen: T, flowCount: 9n },
  ],
  total: 5,
  truncated: true,
};

describe('toJson', () => {
  it('refuses a bigint left unconverted instead of rounding it', () => {
    expect(() => toJson({ n: 9007199254740993n })).toThrow(/BigInt/);
    expect(toJson({ n: 9007199254740993n.toString(), at: new Date(0) })).toBe(
      '{\n  "n": "9007199254740993",\n  "at": "1970-01-01T00:00:00.000Z"\n}\n',
    );
  });
});

describe('renderEdges', () => {
  it('json: the table’s column names, exact counts, and whether rows were cut', () => {
    expect(JSON.parse(renderEdges(PAGE, 'json', 3))).toEqual({
      edges: [
        {
          src_ns: 'shop',
          dst_ns: 'dbaas',
          action: 'allow',
          first_seen: '2026-06-01T08:00:00.123Z',
          last_seen: '2026-06-01T08:00:00.123Z',
          flow_count: '9007199254740993',
        },
        {
          src_ns: 'shop',
          dst_ns: 'payments',
          action: 'deny',
          first_seen: null,
          last_seen: '2026-06-01T08:00:00.123Z',
          flow_count: '10',
        },
        {
          src_ns: 'a',
          dst_ns: 'b',
          action: 'allow',
          first_seen: '2026-06-01T08:00:00.123Z',
          last_seen: '2026-06-01T08:00:00.123Z',
          flow_count: '9',
        },
      ],
      count: 3,
      total: 5,
      truncated: true,
      limit: 3,
    });
  });

  it('csv round-trips through an RFC 4180 reader', () => {
    expect(parseCsv(renderEdges(PAGE, 'csv', 3))).toEqual([
      ['src_ns', 'dst_ns', 'action', 'first_seen', 'last_seen', 'flow_count'],
      ['shop', 'dbaas', 'allow', T.toISOString(), T.toISOString(), '9007199254740993'],
      ['shop', 'payments', 'deny', '', T.toISOString(), '10'],
      ['a', 'b', 'allow', T.toISOString(), T.toISOString(), '9'],
    ]);
  });

  it('table: aligned columns, counts right-aligned, keeping the order given (sorted in SQL)', () => {
    expect(renderEdges(PAGE, 'table', 3)).toBe(
      [
        'SRC_NS  DST_NS    ACTION        FLOW_COUNT  FIRST_SEEN            LAST_SEEN',
        'shop    dbaas     allow   9007199254740993  2026-06-01T08:00:00Z  2026-06-01T08:00:00Z',
        'shop    payments  deny                  10  -                     2026-06-01T08:00:00Z',
        'a       b         allow                  9  2026-06-01T08:00:00Z  2026-06-01T08:00:00Z',
        '',
      ].join('\n'),
    );
  });
});

describe('renderPeers', () => {
  const peers: Page<Peer> = {
    rows: [
      {
        peer: 'dbaas',
        direction: 'both',
        actions: ['allow', 'deny'],
        flowCount: 12n,
        firstSeen: T,
        lastSeen: T,
      },
    ],
    total: 1,
    truncated: false,
  };

  it('json and csv', () => {
    expect(JSON.parse(renderPeers('shop', peers, 'json', 200))).toEqual({
      peers_of: 'shop',
      peers: [
        {
          peer: 'dbaas',
          direction: 'both',
          actions: ['allow', 'deny'],
          flow_count: '12',
          first_seen: T.toISOString(),
          last_seen: T.toISOString(),
        },
      ],
      count: 1,
      total: 1,
      truncated: false,
      limit: 200,
    });
    expect(parseCsv(renderPeers('shop', peers, 'csv', 200))[1]).toEqual([
      'dbaas',
      'both',
      'allow deny',
      '12',
      T.toISOString(),
      T.toISOString(),
    ]);
  });
});

describe('toCsv', () => {
  it('quotes commas, quotes and line breaks, and round-trips them', () => {
    const rows = [['plain', 'a,b', 'say "hi"', 'two\nlines', '']];
    const text = toCsv(['h1', 'h2', 'h3', 'h4', 'h5'], rows);
    expect(text).toBe('h1,h2,h3,h4,h5\nplain,"a,b","say ""hi""","two\nlines",\n');
    expect(parseCsv(text).slice(1)).toEqual(rows);
  });
});

describe('renderTextTable', () => {
  it('prints only the header for no rows', () => {
    expect(renderTextTable([{ header: 'A' }, { header: 'BB', align: 'right' }], [])).toBe('A  BB\n');
  });
});
