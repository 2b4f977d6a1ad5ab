/** The limit (a bare grpc-js client that only counts), and the same client with a decoder. */
import type { BenchContext } from './context.js';
import type { ReceiveApi, ReceiveDecoding, ReceiveOnlyArguments, ReceiveOnlyResult } from './receive-only.js';
import { consumerScript, runConsumer } from './subprocess.js';
import { ownCpuSeconds } from './proc-stats.js';

export interface ReceiveResult {
  readonly flows: number;
  /** Messages the client received (one FlowResult each). */
  readonly messages: number;
  readonly seconds: number;
  readonly flowsPerSecond: number;
  readonly cpuSeconds: number;
  readonly senderCpuSeconds: number;
}

export async function runReceive(
  context: BenchContext,
  decode: ReceiveDecoding,
  nodeFlags: readonly string[],
  api: ReceiveApi = 'call',
): Promise<ReceiveResult> {
  const sender = await context.startSender({ afterLast: 'hold' });
  try {
    const args: ReceiveOnlyArguments = {
      port: sender.port,
      certDir: context.certDir,
      messages: context.stream.messages,
      decode,
      api,
    };
    const senderCpuBefore = ownCpuSeconds();
    const result = await runConsumer<ReceiveOnlyResult>(
      consumerScript('receive-only'),
      args,
      nodeFlags,
      600_000,
    );
    const senderCpuSeconds = ownCpuSeconds() - senderCpuBefore;
    const call = await sender.call(0);
    // From the sender's first write, as for the pipeline, to the last message received.
    const seconds = (result.lastAt - (call.stats().firstWriteAt ?? result.firstAt)) / 1000;
    const flows = context.stream.flows;
    return {
      flows,
      messages: result.messages,
      seconds,
      flowsPerSecond: flows / seconds,
      cpuSeconds: result.cpuSeconds,
      senderCpuSeconds,
    };
  } finally {
    await sender.stop();
  }
}
