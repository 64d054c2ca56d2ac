// The host a broker advertises: the bind host by default, the machine's hostname for a wildcard
// bind, and whatever advertisedHost (WEIR_ADVERTISED_HOST, --advertised-host) says when set. An
// embedded broker's Metadata answer carries it.

import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { advertisedHostFor, resolveBrokerConfig } from '../../broker/config.js';
import { Admin } from '../../client/index.js';
import { removeDir, startTestBroker } from './support.js';

describe('advertisedHostFor', () => {
  it('is the bind host, or the machine hostname for a wildcard', () => {
    const machine = (): string => 'box.local';
    expect(advertisedHostFor('10.1.2.3', machine)).toBe('10.1.2.3');
    expect(advertisedHostFor('localhost', machine)).toBe('localhost');
    for (const wildcard of ['0.0.0.0', '::', '[::]', '::0'])
      expect(advertisedHostFor(wildcard, machine)).toBe('box.local');
  });
});

describe('resolveBrokerConfig advertisedHost', () => {
  it('defaults from host, and is taken from the environment or an option when set', () => {
    expect(resolveBrokerConfig().advertisedHost).toBe('127.0.0.1');
    expect(resolveBrokerConfig({ overrides: { host: '0.0.0.0' } }).advertisedHost).toBe(hostname());
    const env = { WEIR_HOST: '0.0.0.0', WEIR_ADVERTISED_HOST: 'weir.example' };
    expect(resolveBrokerConfig({ env }).advertisedHost).toBe('weir.example');
    expect(resolveBrokerConfig({ env: { WEIR_ADVERTISED_HOST: '' } }).advertisedHost).toBe('127.0.0.1');
    expect(resolveBrokerConfig({ env, overrides: { advertisedHost: 'flag.example' } }).advertisedHost).toBe(
      'flag.example',
    );
  });
});

describe('Metadata', () => {
  it('answers the advertised host, not the bind address', async () => {
    const b = await startTestBroker({ host: '0.0.0.0', advertisedHost: 'weir.example' });
    const port = Number(b.running.grpcAddress.split(':').at(-1));
    const admin = new Admin({ bootstrap: `127.0.0.1:${port}` });
    try {
      const meta = await admin.metadata();
      expect(meta.brokers).toEqual([
        { nodeId: 0, host: 'weir.example', grpcPort: port, httpPort: expect.any(Number) as number },
      ]);
    } finally {
      await admin.close();
      await b.close();
      removeDir(b.dataDir);
    }
  });
});
