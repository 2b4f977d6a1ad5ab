/**
 * One digest run: resume the run a dead process left unfinished, or plan a new one from the edges
 * recorded since the last successful run; then send its messages that Slack has not accepted yet,
 * recording each answer. Exactly once per edge, with one exception that cannot be decided: a
 * process that dies after sending a message but before recording Slack's answer. Its successor
 * sends that message again (it may appear twice) rather than risk losing it; see docs/digest.md.
 */
import { AppError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type {
  DigestEdge,
  DigestStore,
  DigestWindow,
  Plan,
  StoredMessage,
  StoredRun,
} from '../store/digest-store.js';
import { formatInZone } from './format-in-zone.js';
import {
  buildDigestMessages,
  type DigestMessage,
  type DigestMessageOptions,
} from './build-digest-messages.js';
import { explainSlackFailure } from './explain-slack-failure.js';
import { SlackSender, type Clock, type DeliveryTiming } from './slack-sender.js';
import { answerText } from './slack-webhook.js';

export interface RunDigestOptions {
  readonly store: DigestStore;
  readonly firstRunWindowMs: number;
  readonly message: DigestMessageOptions;
  /** null: a dry run, which prints the payloads and records nothing. */
  readonly webhookUrl: string | null;
  readonly log: Logger;
  /** Where a dry run prints the payloads, one JSON document per line. */
  readonly stdout: NodeJS.WritableStream;
  readonly timing: DeliveryTiming;
  readonly clock: Clock;
}

export type DigestOutcome =
  | { readonly kind: 'dry-run'; readonly messages: number; readonly edges: number }
  | { readonly kind: 'empty' }
  /** Another digest holds the lock and is sending right now. */
  | { readonly kind: 'busy' }
  | { readonly kind: 'posted'; readonly runId: number; readonly sent: number; readonly resumed: boolean };

function unaccepted(run: StoredRun): StoredMessage[] {
  return run.messages.filter((message) => message.status !== 'accepted');
}

export async function runDigest(options: RunDigestOptions): Promise<DigestOutcome> {
  const { store, log, message } = options;
  const since = (window: DigestWindow): string =>
    `${formatInZone(window.from, message.timeZone)} ${message.timeZone}`;
  const build = (window: DigestWindow, edges: readonly DigestEdge[]): DigestMessage[] =>
    buildDigestMessages(window, edges, message);

  if (options.webhookUrl === null) {
    // What a real run would send now: the rest of an unfinished run, or a new one. No lock, no writes.
    const unfinished = await store.unfinishedRun();
    const plan: Plan =
      unfinished === null
        ? await store.planRun(options.firstRunWindowMs, build, { record: false })
        : { kind: 'run', run: unfinished };
    if (plan.kind === 'empty') {
      log.info(`dry run: no new edges since ${since(plan.window)}; nothing would be posted`);
      return { kind: 'dry-run', messages: 0, edges: 0 };
    }
    const { run } = plan;
    const pending = unaccepted(run);
    for (const { payload } of pending) options.stdout.write(`${payload}\n`);
    log.info(
      {
        messages: pending.length,
        edges: run.edgeCount,
        resumes: unfinished === null ? undefined : unfinished.id,
      },
      `dry run: ${pending.length} message(s) printed on stdout; nothing sent, nothing recorded`,
    );
    return { kind: 'dry-run', messages: pending.length, edges: run.edgeCount };
  }

  if (!(await store.tryLock())) {
    log.warn('another digest run is in progress (it holds the digest lock); this one does nothing');
    return { kind: 'busy' };
  }
  let run = await store.unfinishedRun();
  const resumed = run !== null;
  if (run !== null) {
    const pending = unaccepted(run);
    log.warn(
      { run: run.id, pending: pending.map((m) => m.seq) },
      `resuming digest run ${run.id}, which stopped before Slack accepted all its messages`,
    );
    for (const m of pending.filter((p) => p.status === 'sending')) {
      log.warn(
        { run: run.id, message: m.seq },
        `message ${m.seq} of run ${run.id} was sent but its answer never recorded; sending it again (it may appear twice)`,
      );
    }
  } else {
    const plan = await store.planRun(options.firstRunWindowMs, build, { record: true });
    if (plan.kind === 'empty') {
      log.info({ run: plan.runId }, `no new edges since ${since(plan.window)}; nothing posted`);
      return { kind: 'empty' };
    }
    run = plan.run;
  }

  const sender = new SlackSender(options.webhookUrl, options.timing, options.clock);
  const count = run.messages.length;
  const runId = run.id;
  let sent = 0;
  for (const pending of unaccepted(run)) {
    const result = await sender.deliver(pending.payload, {
      beforeAttempt: () => store.markSending(runId, pending.seq),
      async onRetry(answer, attempt, delayMs) {
        await store.markAnswer(runId, pending.seq, answerText(answer));
        log.warn(
          { run: runId, message: pending.seq, attempt, answer: answerText(answer), retryInMs: delayMs },
          'Slack did not accept the digest message yet; retrying',
        );
      },
    });
    if (!result.ok) {
      const error = explainSlackFailure(result, { seq: pending.seq, count }, message.channel);
      const { answer } = result;
      log.error(
        answer.kind === 'network-error'
          ? { run: runId, message: pending.seq, error: answer.description }
          : { run: runId, message: pending.seq, status: answer.status, body: answer.body },
        'Slack did not accept the digest message',
      );
      await store.markFailed(runId, pending.seq, answerText(answer), error);
      throw new AppError('DIGEST_POST_FAILED', error);
    }
    await store.markAccepted(runId, pending.seq);
    sent++;
  }
  await store.markPosted(runId);
  log.info(
    { run: runId, messages: sent, edges: run.edgeCount, resumed },
    resumed
      ? `resumed digest run ${runId}: sent the ${sent} message(s) Slack had not accepted`
      : `posted ${run.edgeCount} new edge(s) in ${count} message(s)`,
  );
  return { kind: 'posted', runId, sent, resumed };
}
