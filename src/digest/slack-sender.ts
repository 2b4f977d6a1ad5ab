/**
 * Sends the messages of one run one at a time, spaced and retried as Slack asks. Timing is
 * injectable so tests can check the exact waits without waiting.
 */
import { postToWebhook, type SlackAnswer } from './slack-webhook.js';

export interface DeliveryTiming {
  /** Between the answer to one request and the next request of the same run. */
  readonly minIntervalMs: number;
  /** Waits before the 2nd, 3rd, ... attempt after a 5xx or a network error (and a 429 without Retry-After). */
  readonly retryDelaysMs: readonly number[];
  /** Attempts per message, whatever the failures. */
  readonly maxAttempts: number;
  /** A 429 asking for a longer wait gives up: the edges go to the next run instead of stalling the Job. */
  readonly maxRetryAfterMs: number;
  /** One request, body included. */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_DELIVERY_TIMING: DeliveryTiming = {
  // Slack allows incoming webhooks about one message per second, and disabled webhooks that
  // posted faster for a sustained time.
  minIntervalMs: 1_000,
  // Two retries over 6 s: enough to ride out a blip of Slack's, short enough for a daily Job.
  retryDelaysMs: [2_000, 4_000],
  // F16: on 429, up to 3 tries.
  maxAttempts: 3,
  // Slack's Retry-After for webhooks is seconds; minutes would mean it wants us gone for now.
  maxRetryAfterMs: 120_000,
  // Slack answers in well under a second; 10 s covers a slow network, and a timed-out request
  // is retried like a network error.
  requestTimeoutMs: 10_000,
};

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export type DeliveryResult =
  | { readonly ok: true; readonly attempts: number }
  | {
      readonly ok: false;
      readonly attempts: number;
      readonly answer: Exclude<SlackAnswer, { kind: 'accepted' }>;
      /** refused: no retry; exhausted: maxAttempts reached; retry-after-too-long: see maxRetryAfterMs. */
      readonly reason: 'refused' | 'exhausted' | 'retry-after-too-long';
    };

export interface AttemptHooks {
  /** Before each request (the run records "sending" so that dying mid-request leaves a trace). */
  beforeAttempt(attempt: number): Promise<void>;
  /** After an answer that will be retried. */
  onRetry(answer: SlackAnswer, attempt: number, delayMs: number): Promise<void>;
}

export class SlackSender {
  private lastAnswerAt: number | null = null;

  constructor(
    private readonly webhookUrl: string,
    private readonly timing: DeliveryTiming = DEFAULT_DELIVERY_TIMING,
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {}

  /** Sends one message, retrying the same bytes as the answer allows. */
  async deliver(payload: string, hooks: AttemptHooks): Promise<DeliveryResult> {
    let delayMs = 0;
    for (let attempt = 1; ; attempt++) {
      await this.waitBeforeRequest(delayMs);
      await hooks.beforeAttempt(attempt);
      const answer = await postToWebhook(this.webhookUrl, payload, this.timing.requestTimeoutMs);
      this.lastAnswerAt = this.clock.now();
      if (answer.kind === 'accepted') return { ok: true, attempts: attempt };
      if (answer.kind === 'refused') return { ok: false, attempts: attempt, answer, reason: 'refused' };
      if (attempt >= this.timing.maxAttempts) {
        return { ok: false, attempts: attempt, answer, reason: 'exhausted' };
      }
      const backoff = this.timing.retryDelaysMs[Math.min(attempt, this.timing.retryDelaysMs.length) - 1] ?? 0;
      delayMs = answer.kind === 'rate-limited' ? (answer.retryAfterMs ?? backoff) : backoff;
      if (delayMs > this.timing.maxRetryAfterMs) {
        return { ok: false, attempts: attempt, answer, reason: 'retry-after-too-long' };
      }
      await hooks.onRetry(answer, attempt, delayMs);
    }
  }

  /** At least `minIntervalMs` (or the retry delay, if longer) after the previous answer. */
  private async waitBeforeRequest(delayMs: number): Promise<void> {
    if (this.lastAnswerAt === null) return;
    const due = this.lastAnswerAt + Math.max(delayMs, this.timing.minIntervalMs);
    // Timers may fire a little early; loop until the interval has really passed.
    for (let left = due - this.clock.now(); left > 0; left = due - this.clock.now()) {
      await this.clock.sleep(left);
    }
  }
}
