// Which channel a call gets: the bootstrap list in order for "any broker" (staying on one that
// works, moving on from one that cannot be reached), advertised addresses by node id once a
// cluster of several is known, the given address for a cluster of one, and one channel per
// address, all closed together.

import { describe, expect, it } from 'vitest';
import { BrokerPool, brokerAddress } from '../../client/broker-pool.js';
import type { WeirClient } from '../../proto/generated/weir/v1/Weir.js';

/** A pool whose channels are placeholders that only record being opened and closed. */
function pool(bootstrap: string[]): { pool: BrokerPool; opened: string[]; closed: string[] } {
  const opened: string[] = [];
  const closed: string[] = [];
  const open = (address: string): WeirClient => {
    opened.push(address);
    return { close: () => closed.push(address) } as unknown as WeirClient;
  };
  return { pool: new BrokerPool(bootstrap, open), opened, closed };
}

const three = [
  { nodeId: 1, host: 'h1', grpcPort: 1 },
  { nodeId: 2, host: 'h2', grpcPort: 2 },
  { nodeId: 3, host: '::1', grpcPort: 3 },
];

describe('BrokerPool', () => {
  it('goes through the bootstrap list in order, staying on a broker until it cannot be reached', () => {
    const { pool: p, opened } = pool(['a:1', 'b:2']);
    expect(p.any().address).toBe('a:1');
    expect(p.any().address).toBe('a:1');
    p.unreachable('b:2'); // not the one in use: changes nothing
    expect(p.any().address).toBe('a:1');
    p.unreachable('a:1');
    expect(p.any().address).toBe('b:2');
    p.unreachable('b:2');
    expect(p.any().address).toBe('a:1');
    expect(opened).toEqual(['a:1', 'b:2']); // lazily, once each
  });

  it('routes by node id to advertised addresses once several brokers are known', () => {
    const { pool: p } = pool(['a:1']);
    expect(p.node(2).address).toBe('a:1'); // nothing known yet: any broker
    p.learnCluster(three);
    expect(p.node(1).address).toBe('h1:1');
    expect(p.node(3).address).toBe('[::1]:3');
    expect(p.node(9).address).toBe('a:1'); // unknown node: any broker
    expect(p.candidateCount).toBe(4);
    // The brokers learnt are tried after the bootstrap list.
    p.unreachable('a:1');
    expect(p.any().address).toBe('h1:1');
  });

  it('keeps any-broker calls where they were when the cluster changes', () => {
    const { pool: p } = pool(['a:1']);
    p.learnCluster(three);
    p.unreachable('a:1');
    p.unreachable('h1:1');
    expect(p.any().address).toBe('h2:2');
    p.learnCluster(three.slice(1));
    expect(p.any().address).toBe('h2:2');
  });

  it('sends everything to the address it was given when the cluster is one broker', () => {
    const { pool: p } = pool(['localhost:9093']);
    p.learnCluster([{ nodeId: 0, host: 'container-name', grpcPort: 9093 }]);
    expect(p.node(0).address).toBe('localhost:9093');
    expect(p.addressOf(0)).toBe('container-name:9093');
  });

  it('learns a coordinator without forgetting the others, and closes every channel once', () => {
    const { pool: p, closed } = pool(['a:1']);
    p.learnCluster(three);
    p.learnBroker({ nodeId: 4, host: 'h4', grpcPort: 4 });
    expect(p.node(4).address).toBe('h4:4');
    expect(p.node(1).address).toBe('h1:1');
    p.any();
    p.close();
    expect(closed.sort()).toEqual(['a:1', 'h1:1', 'h4:4']);
    expect(() => p.node(2)).toThrow(/closed/);
  });

  it('writes IPv6 hosts in brackets', () => {
    expect(brokerAddress('::1', 9093)).toBe('[::1]:9093');
    expect(brokerAddress('[::1]', 9093)).toBe('[::1]:9093');
    expect(brokerAddress('h', 1)).toBe('h:1');
  });
});
