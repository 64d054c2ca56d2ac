import { describe, expect, it } from 'vitest';
import { isWeirError } from '../../proto/errors.js';
import {
  DEFAULT_LOG_CONFIG,
  LOG_CONFIG_NAMES,
  logConfigEntries,
  logConfigFrom,
} from '../../storage/log-config.js';

describe('log config', () => {
  it('takes Kafka-style names and string values, over the defaults, frozen', () => {
    const config = logConfigFrom({
      'retention.ms': '1000',
      'cleanup.policy': 'delete,compact',
      'segment.bytes': 4096,
    });
    expect(config.retentionMs).toBe(1000);
    expect(config.cleanupPolicy).toBe('compact,delete');
    expect(config.segmentBytes).toBe(4096);
    expect(config.flushMessages).toBe(DEFAULT_LOG_CONFIG.flushMessages);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    ['no.such.key', '1', /unknown config key 'no.such.key'/],
    ['segment.bytes', '12', /segment.bytes must be an integer between 1024/],
    ['segment.bytes', 'lots', /segment.bytes/],
    ['retention.ms', '1.5', /retention.ms must be an integer/],
    ['retention.ms', '-2', /retention.ms/],
    ['flush.messages', '0', /flush.messages/],
    ['min.cleanable.dirty.ratio', '1.5', /must be a number between 0 and 1/],
    ['cleanup.policy', 'shred', /cleanup.policy must be one of/],
    ['segment.ms', '', /segment.ms/],
  ])('rejects %s=%s with INVALID_CONFIG naming the key', (key, value, message) => {
    let thrown: unknown;
    try {
      logConfigFrom({ [key]: value });
    } catch (err) {
      thrown = err;
    }
    expect(isWeirError(thrown, 'INVALID_CONFIG')).toBe(true);
    expect(String(thrown)).toMatch(message);
  });

  it('lists every key, and entries round-trip through logConfigFrom', () => {
    const config = logConfigFrom({ 'retention.bytes': '77', 'cleanup.policy': 'compact' });
    const entries = logConfigEntries(config);
    expect(Object.keys(entries).sort()).toEqual([...LOG_CONFIG_NAMES].sort());
    expect(logConfigFrom(entries)).toEqual(config);
  });
});
