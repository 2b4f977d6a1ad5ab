/**
 * The error message for a message Slack did not accept: what Slack said, what it means for this
 * webhook, and what to do. Slack's answers are documented in
 * https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks.
 */
import type { DeliveryResult } from './slack-sender.js';
import { answerText } from './slack-webhook.js';

type Failure = Extract<DeliveryResult, { ok: false }>;

/** Edges of unaccepted messages stay unannounced: said in every message so nobody worries. */
const NEXT_RUN = 'the edges it carries are not marked as reported; the next successful run includes them';

function advice(failure: Failure, channel: string | null): string {
  const { answer } = failure;
  if (failure.reason === 'exhausted') {
    return answer.kind === 'network-error'
      ? 'Slack could not be reached; check the network path (egress policy, DNS, proxy) to the webhook host'
      : 'Slack kept failing; see https://slack-status.com and rerun the Job later';
  }
  if (failure.reason === 'retry-after-too-long') {
    return 'Slack asked to wait longer than this Job waits; rerun it later';
  }
  if (answer.kind !== 'refused') return 'unexpected answer';
  const body = answer.body.trim();
  if (body === 'channel_not_found' && channel !== null) {
    return `the webhook is bound to one channel and rejects the channel override SLACK_CHANNEL=${channel}; unset SLACK_CHANNEL so the digest posts to the webhook's own channel`;
  }
  if (body === 'channel_not_found') {
    return "the webhook's channel no longer exists or its app was removed from it; create a new incoming webhook and update the secret that holds SLACK_WEBHOOK_URL";
  }
  if (body === 'channel_is_archived') {
    return "the webhook's channel is archived; unarchive it or create a webhook for another channel";
  }
  if (body === 'no_service' || body === 'no_team' || body === 'team_disabled' || answer.status === 401) {
    return 'the webhook was revoked or disabled; create a new incoming webhook and update the secret that holds SLACK_WEBHOOK_URL';
  }
  if (body === 'action_prohibited' || answer.status === 403) {
    return 'the workspace does not allow this webhook to post here; ask a Slack admin';
  }
  if (answer.status === 400) {
    return 'Slack rejected the message itself, which is a bug in the digest; please report it with this log';
  }
  if (answer.status >= 300 && answer.status < 400) {
    return 'the webhook URL redirects, which Slack webhooks never do; check SLACK_WEBHOOK_URL';
  }
  return 'not retried: sending the same message again would get the same answer';
}

/** One line for the `error [DIGEST_POST_FAILED]` output. */
export function explainSlackFailure(
  failure: Failure,
  message: { readonly seq: number; readonly count: number },
  channel: string | null,
): string {
  const which = message.count === 1 ? 'the digest message' : `digest message ${message.seq}/${message.count}`;
  const tries = failure.attempts === 1 ? '' : ` (after ${failure.attempts} attempts)`;
  return `Slack did not accept ${which}: ${answerText(failure.answer)}${tries}; ${advice(failure, channel)}; ${NEXT_RUN}`;
}
