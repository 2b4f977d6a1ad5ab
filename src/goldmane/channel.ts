/**
 * The gRPC channel to Goldmane: mutual TLS always (never a plaintext fallback), the expected server
 * name, and keepalive within what Goldmane's Go server tolerates.
 */
import * as grpc from '@grpc/grpc-js';
import type { GoldmaneConfig } from '../config/load-config.js';

/** A ping that gets no answer in this long marks the connection dead. */
const KEEPALIVE_TIMEOUT_MS = 20_000;
/** grpc-js's own reconnect backoff (below our per-call backoff) stays within the same 30 s cap. */
const CHANNEL_MAX_RECONNECT_BACKOFF_MS = 30_000;

export function channelCredentials(config: GoldmaneConfig): grpc.ChannelCredentials {
  const { tls, insecure } = config;
  if (insecure) {
    // Still mutual TLS: Goldmane requires our certificate. Only the server's certificate goes unchecked.
    return grpc.credentials.createSsl(null, tls.key, tls.cert, {
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
  }
  return grpc.credentials.createSsl(tls.ca, tls.key, tls.cert);
}

export function channelOptions(config: GoldmaneConfig): grpc.ChannelOptions {
  const options: grpc.ChannelOptions = {
    'grpc.max_reconnect_backoff_ms': CHANNEL_MAX_RECONNECT_BACKOFF_MS,
  };
  if (config.serverNameOverridden) {
    // Both are needed: the first sets SNI and the name verified, the second the :authority header.
    options['grpc.ssl_target_name_override'] = config.serverName;
    options['grpc.default_authority'] = config.serverName;
  }
  if (config.keepaliveMs > 0) {
    options['grpc.keepalive_time_ms'] = config.keepaliveMs;
    options['grpc.keepalive_timeout_ms'] = KEEPALIVE_TIMEOUT_MS;
    // Pings without an active call count as abuse on Goldmane's side (PermitWithoutStream=false).
    options['grpc.keepalive_permit_without_calls'] = 0;
  }
  return options;
}

export function createGoldmaneClient(config: GoldmaneConfig): grpc.Client {
  return new grpc.Client(config.target, channelCredentials(config), channelOptions(config));
}
