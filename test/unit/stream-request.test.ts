import { describe, expect, it } from 'vitest';
import { encodeFlowStreamRequest } from '../../src/goldmane/stream-request.js';
import { decodeFlowStreamRequest } from '../../src/goldmane/proto.js';

describe('encodeFlowStreamRequest', () => {
  it('encodes start_time_gte as the .proto says, negative, positive and zero', () => {
    for (const value of [-3540, 1_764_000_015, 0]) {
      expect(decodeFlowStreamRequest(encodeFlowStreamRequest(value))).toEqual({ start_time_gte: value });
    }
    // Field 1 varint; a negative int64 takes ten bytes (two's complement).
    expect(encodeFlowStreamRequest(-3540).toString('hex')).toBe('08ace4ffffffffffffff01');
    expect(encodeFlowStreamRequest(0).length).toBe(0);
  });
});
