// The Kafka listener's port as the broker config resolves it: Kafka's 9092 on one broker when no
// source names it, none on a broker with peers (brokers of a cluster often share a machine), and any
// port a source gives (0: any free port, -1: none) over either default. The embedded broker opens
// none unless asked, so tests and embedders never take 9092 by surprise.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveBrokerConfig } from '../../broker/config.js';
import { startBroker } from '../../broker/main.js';

const PEERS = { peers: '1@127.0.0.1:9195,2@127.0.0.1:9295', nodeId: 1, clusterId: 'c1' };
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'weir-kport-'));
  dirs.push(d);
  return d;
}

describe('the Kafka port', () => {
  it('is 9092 on one broker and none with peers when no source names it', () => {
    expect(resolveBrokerConfig().kafkaPort).toBe(9092);
    expect(resolveBrokerConfig({ overrides: PEERS }).kafkaPort).toBe(-1);
    // Peers from the environment count the same.
    expect(
      resolveBrokerConfig({
        env: { WEIR_PEERS: PEERS.peers, WEIR_NODE_ID: '1', WEIR_CLUSTER_ID: 'c1' },
      }).kafkaPort,
    ).toBe(-1);
  });

  it('is what a flag, the environment or a config file gives, 0 and -1 included', () => {
    expect(resolveBrokerConfig({ overrides: { kafkaPort: 0 } }).kafkaPort).toBe(0);
    expect(resolveBrokerConfig({ overrides: { kafkaPort: -1 } }).kafkaPort).toBe(-1);
    expect(resolveBrokerConfig({ env: { WEIR_KAFKA_PORT: '19092' } }).kafkaPort).toBe(19092);
    expect(resolveBrokerConfig({ env: { WEIR_KAFKA_PORT: '-1' } }).kafkaPort).toBe(-1);
    const file = join(tempDir(), 'weir.json');
    writeFileSync(file, JSON.stringify({ kafkaPort: 0 }));
    expect(resolveBrokerConfig({ file }).kafkaPort).toBe(0);
    // Given with peers, it stays given: the broker opens it and registers it with the controller.
    expect(resolveBrokerConfig({ overrides: { ...PEERS, kafkaPort: 0 } }).kafkaPort).toBe(0);
    expect(() => resolveBrokerConfig({ overrides: { kafkaPort: -2 } })).toThrow(/kafkaPort/);
  });

  it('is none on an embedded broker unless asked', async () => {
    const running = await startBroker({ dataDir: tempDir() });
    try {
      expect(running.kafkaAddress).toBeNull();
      expect(running.config.kafkaPort).toBe(-1);
    } finally {
      await running.close();
    }
    const asked = await startBroker({ dataDir: tempDir(), kafkaPort: 0 });
    try {
      expect(asked.kafkaAddress).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(asked.kafkaAddress).not.toBe('127.0.0.1:9092');
    } finally {
      await asked.close();
    }
  });
});
