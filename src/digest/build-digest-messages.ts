/**
 * Turns the new edges of one digest run into Slack messages (pure). Denied edges first, each
 * marked; then the others grouped by source namespace; in the order the store gives (src_ns,
 * dst_ns, action). A day with many new edges becomes several numbered messages, "(1/3)" ...,
 * each edge in exactly one of them, each message within Slack's limits.
 */
import { AppError } from '../errors.js';
import type { DigestEdge, DigestWindow, EdgeKey, PlannedMessage } from '../store/digest-store.js';
import { formatCount, formatInZone } from './format-in-zone.js';

/** Slack refuses a message with more blocks (400 invalid_blocks). */
export const SLACK_MAX_BLOCKS = 50;
/** Slack refuses a section or context text longer than this (400 invalid_blocks). */
export const SLACK_MAX_TEXT_CHARS = 3000;
/** Slack's header blocks take plain text up to this length. */
export const SLACK_MAX_HEADER_CHARS = 150;
/**
 * All text of one message. Slack's hard limit is 40,000 characters; staying far below it keeps a
 * message readable and leaves room for Slack's own escaping of &, < and >.
 */
export const MESSAGE_MAX_CHARS = 12_000;
/** About a screenful: a busy day reads as a few messages rather than one endless one. */
export const MESSAGE_MAX_EDGES = 50;
/** Header, context and fallback text, which are written once the number of messages is known. */
const FRAME_RESERVED_CHARS = 1_000;
/** Header and context. */
const FRAME_BLOCKS = 2;

export interface DigestMessageOptions {
  /** IANA zone for the dates shown. */
  readonly timeZone: string;
  /** SLACK_CHANNEL; null leaves the channel out (the webhook's own channel). */
  readonly channel: string | null;
}

interface TextObject {
  readonly type: 'mrkdwn' | 'plain_text';
  readonly text: string;
}

export type SlackBlock =
  | { readonly type: 'header'; readonly text: TextObject }
  | { readonly type: 'context'; readonly elements: readonly TextObject[] }
  | { readonly type: 'section'; readonly text: TextObject }
  | { readonly type: 'divider' };

export interface SlackPayload {
  readonly channel?: string;
  /** Always present: the notification text, and what clients without blocks show. */
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

type Part = 'denied' | 'other';

interface Section {
  readonly part: Part;
  readonly text: string;
}

interface Draft {
  readonly edges: readonly DigestEdge[];
  readonly sections: readonly Section[];
  /** Source namespace of the last line, to know when a group heading is due. */
  readonly group: string | null;
}

const EMPTY_DRAFT: Draft = { edges: [], sections: [], group: null };

/** Slack's mrkdwn treats these three as control characters. */
function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function flows(count: bigint): string {
  return `${formatCount(count)} ${count === 1n ? 'flow' : 'flows'}`;
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

function partOf(edge: DigestEdge): Part {
  return edge.action === 'deny' ? 'denied' : 'other';
}

const PART_HEADINGS: Record<Part, string> = {
  denied: ':no_entry: *Denied*: policy dropped this traffic',
  other: '*Allowed*, by source namespace',
};

function groupHeading(src: string): string {
  return `\`${escapeMrkdwn(src)}\` →`;
}

function edgeLine(edge: DigestEdge, timeZone: string): string {
  const seen = `first seen ${formatInZone(edge.firstSeen, timeZone)} · ${flows(edge.flowCount)}`;
  if (edge.action === 'deny') {
    return `:no_entry: \`${escapeMrkdwn(edge.src)}\` → \`${escapeMrkdwn(edge.dst)}\` · ${seen}`;
  }
  const action = edge.action === 'allow' ? '' : ` _${escapeMrkdwn(edge.action)}_`;
  return `• \`${escapeMrkdwn(edge.dst)}\`${action} · ${seen}`;
}

function blockCount(sections: readonly Section[]): number {
  // One divider between the denied and the other part.
  const divider = sections.some((s) => s.part === 'denied') && sections.some((s) => s.part === 'other');
  return FRAME_BLOCKS + sections.length + (divider ? 1 : 0);
}

/** The draft with one more edge, or null if the edge belongs in the next message. */
function withEdge(draft: Draft, edge: DigestEdge, timeZone: string): Draft | null {
  if (draft.edges.length >= MESSAGE_MAX_EDGES) return null;
  const part = partOf(edge);
  const last = draft.sections.at(-1);
  const newPart = last?.part !== part;
  const lines: string[] = [];
  if (part === 'other' && (newPart || draft.group !== edge.src)) lines.push(groupHeading(edge.src));
  lines.push(edgeLine(edge, timeZone));
  const addition = lines.join('\n');
  let sections: Section[];
  if (!newPart && last !== undefined && last.text.length + 1 + addition.length <= SLACK_MAX_TEXT_CHARS) {
    sections = [...draft.sections.slice(0, -1), { part, text: `${last.text}\n${addition}` }];
  } else {
    // A group continued in a new section repeats its heading, so every line says where it starts.
    const continued = !newPart && part === 'other' && lines.length === 1;
    const text = [
      ...(newPart ? [PART_HEADINGS[part]] : []),
      ...(continued ? [groupHeading(edge.src)] : []),
      addition,
    ].join('\n');
    sections = [...draft.sections, { part, text }];
  }
  const chars = sections.reduce((sum, section) => sum + section.text.length, 0);
  // The first edge of a message always fits (a line is a few hundred characters at most).
  if (
    draft.edges.length > 0 &&
    (chars + FRAME_RESERVED_CHARS > MESSAGE_MAX_CHARS || blockCount(sections) > SLACK_MAX_BLOCKS)
  ) {
    return null;
  }
  return { edges: [...draft.edges, edge], sections, group: edge.src };
}

function summary(edges: readonly DigestEdge[]): string {
  const byAction = new Map<string, number>();
  for (const edge of edges) byAction.set(edge.action, (byAction.get(edge.action) ?? 0) + 1);
  const denied = byAction.get('deny') ?? 0;
  const counts = [`${denied} denied`, `${byAction.get('allow') ?? 0} allowed`];
  for (const [action, count] of [...byAction].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (action !== 'deny' && action !== 'allow') counts.push(`${count} ${action}`);
  }
  return counts.join(', ');
}

function frame(
  draft: Draft,
  index: number,
  total: number,
  edges: readonly DigestEdge[],
  firstEdge: number,
  window: DigestWindow,
  options: DigestMessageOptions,
): SlackPayload {
  const label = total === 1 ? '' : ` (${index + 1}/${total})`;
  const since = `${formatInZone(window.from, options.timeZone)} ${options.timeZone}`;
  const totalFlows = edges.reduce((sum, edge) => sum + edge.flowCount, 0n);
  const part = total === 1 ? '' : ` · this message: edges ${firstEdge + 1}–${firstEdge + draft.edges.length}`;
  const context =
    `*${plural(edges.length, 'new edge', 'new edges')}* first recorded since ${since}` +
    `${window.firstRun ? ' (first digest)' : ''}: ${summary(edges)} · ${flows(totalFlows)} so far${part}`;
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: `New east-west edges${label}` } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: context }] },
  ];
  draft.sections.forEach((section, i) => {
    if (i > 0 && section.part !== draft.sections[i - 1]!.part) blocks.push({ type: 'divider' });
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: section.text } });
  });
  const denied = edges.filter((edge) => edge.action === 'deny').length;
  const text =
    `${plural(edges.length, 'new east-west edge', 'new east-west edges')} since ${since}` +
    `${denied === 0 ? '' : `, ${denied} denied`}${label}`;
  return options.channel === null ? { text, blocks } : { channel: options.channel, text, blocks };
}

/** What breaks Slack's limits in a payload; empty when it is fine. */
export function slackLimitProblems(payload: SlackPayload): string[] {
  const problems: string[] = [];
  if (payload.text.trim() === '') problems.push('no top-level text');
  if (payload.blocks.length > SLACK_MAX_BLOCKS) problems.push(`${payload.blocks.length} blocks`);
  let chars = payload.text.length;
  for (const block of payload.blocks) {
    const texts = block.type === 'context' ? block.elements : block.type === 'divider' ? [] : [block.text];
    for (const { text } of texts) {
      chars += text.length;
      const max = block.type === 'header' ? SLACK_MAX_HEADER_CHARS : SLACK_MAX_TEXT_CHARS;
      if (text.length > max) problems.push(`a ${block.type} text of ${text.length} characters`);
    }
  }
  if (chars > MESSAGE_MAX_CHARS) problems.push(`${chars} characters in all`);
  return problems;
}

export interface DigestMessage extends PlannedMessage {
  readonly body: SlackPayload;
}

/** The messages of one run; `edges` in the store's order, denied first. */
export function buildDigestMessages(
  window: DigestWindow,
  edges: readonly DigestEdge[],
  options: DigestMessageOptions,
): DigestMessage[] {
  const drafts: Draft[] = [];
  let draft = EMPTY_DRAFT;
  for (const edge of edges) {
    const next = withEdge(draft, edge, options.timeZone);
    if (next !== null) {
      draft = next;
      continue;
    }
    drafts.push(draft);
    draft = withEdge(EMPTY_DRAFT, edge, options.timeZone)!;
  }
  if (draft.edges.length > 0) drafts.push(draft);
  let firstEdge = 0;
  return drafts.map((d, index) => {
    const body = frame(d, index, drafts.length, edges, firstEdge, window, options);
    firstEdge += d.edges.length;
    const problems = slackLimitProblems(body);
    if (problems.length > 0) {
      throw new AppError(
        'INTERNAL',
        `digest message ${index + 1} breaks Slack's limits: ${problems.join(', ')}`,
      );
    }
    const keys: EdgeKey[] = d.edges.map(({ src, dst, action }) => ({ src, dst, action }));
    return { body, payload: JSON.stringify(body), edges: keys };
  });
}
