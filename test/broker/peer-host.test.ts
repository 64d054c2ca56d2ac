import { describe, expect, it } from 'vitest';
import { hostOf } from '../../broker/peer-host.js';

describe('hostOf', () => {
  it.each([
    ['127.0.0.1:53122', '127.0.0.1'],
    ['[::1]:53122', '::1'],
    ['::ffff:127.0.0.1:9092', '::ffff:127.0.0.1'],
    ['client.example:1', 'client.example'],
  ])('%s → %s', (address, host) => {
    expect(hostOf(address)).toBe(host);
  });
});
