import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkWebhookUrl } from '../../src/config/load-config.js';
import { answerText, postToWebhook } from '../../src/digest/slack-webhook.js';

let server: Server;
let base: string;

beforeAll(async () => {
  // Answers like an Express app without the route: it echoes the path it was asked for.
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const last = (request.url ?? '').split('/').at(-1);
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end(
        request.url?.includes('partial') === true ? `no such token ${last}` : `Cannot POST ${request.url}`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('postToWebhook never lets the webhook secret through an echoed answer', () => {
  it('redacts a body that repeats the whole path', async () => {
    const url = `${base}/services/T000/B000/SECRETXYZ123`;
    const answer = await postToWebhook(url, '{"text":"x"}', 5_000);
    expect(answerText(answer)).toBe('404 Cannot POST [webhook URL]');
  });

  it('redacts a body that repeats only the token segment', async () => {
    const url = `${base}/partial/T000/B000/TOKENabcdef99`;
    expect(answerText(await postToWebhook(url, '{"text":"x"}', 5_000))).toBe(
      '404 no such token [webhook URL]',
    );
  });
});

describe('checkWebhookUrl', () => {
  it('refuses a URL with a user or password, without showing it', () => {
    const problem = checkWebhookUrl('https://user:SECRETQQ@hooks.slack.com/services/T/B/X');
    expect(problem).toBe(
      'SLACK_WEBHOOK_URL must not carry a user or password (value not shown); set it to the incoming webhook, https://hooks.slack.com/services/...',
    );
  });
});
