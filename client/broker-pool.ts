// The channels of one client connection: one gRPC channel per broker address, opened the first time
// a call needs that broker and closed together when the connection closes.
//
// Two ways to pick a broker. By node id, for what only one broker can answer (a partition's
// leader, a group's coordinator): the id's address comes from the last Metadata (or FindCoordinator)
// answer. Or "any broker", for what every broker answers (metadata, topic administration): the
// bootstrap addresses in order, then the brokers Metadata named, staying on one while it answers
// and moving to the next when it cannot be reached, as Kafka's bootstrap.servers.
//
// A cluster of one broker is reached at the address the client was given, not the one the broker
// advertises: that keeps a lone broker behind NAT, port forwarding or a container's port mapping
// working without an advertised host, and with one broker there is nobody else to route to.

import type { WeirClient } from '../proto/generated/weir/v1/Weir.js';

export interface BrokerAddress {
  nodeId: number;
  host: string;
  grpcPort: number;
}

/** A broker's channel: its address (for messages) and the generated client over it. */
export interface BrokerChannel {
  readonly address: string;
  readonly client: WeirClient;
}

/** `host:port`, with an IPv6 host in brackets. */
export function brokerAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

export class BrokerPool {
  readonly bootstrap: readonly string[];
  private readonly open: (address: string) => WeirClient;
  private readonly channels = new Map<string, BrokerChannel>();
  private readonly nodes = new Map<number, string>();
  /** Brokers the last Metadata named; -1 before any. */
  private clusterSize = -1;
  /** The candidate "any broker" calls go to now (an index into candidates()). */
  private current = 0;
  private closed = false;

  constructor(bootstrap: readonly string[], open: (address: string) => WeirClient) {
    this.bootstrap = bootstrap;
    this.open = open;
  }

  /** The broker "any broker" calls go to now. */
  any(): BrokerChannel {
    const candidates = this.candidates();
    return this.channel(candidates[this.current % candidates.length]!);
  }

  /** How many distinct brokers an "any broker" call may try. */
  get candidateCount(): number {
    return this.candidates().length;
  }

  /** `address` could not be reached: if "any broker" calls were going there, go to the next one. */
  unreachable(address: string): void {
    const candidates = this.candidates();
    if (candidates[this.current % candidates.length] === address) {
      this.current = (this.current + 1) % candidates.length;
    }
  }

  /**
   * The channel to a broker by node id. A node not (or no longer) known goes to any broker, whose
   * answer (NOT_LEADER_OR_FOLLOWER, NOT_COORDINATOR) then sends the caller to look again.
   */
  node(nodeId: number): BrokerChannel {
    const address = this.nodes.get(nodeId);
    if (address === undefined || this.clusterSize <= 1) return this.any();
    return this.channel(address);
  }

  /** The address a node id stands for now, if known. */
  addressOf(nodeId: number): string | undefined {
    return this.nodes.get(nodeId);
  }

  /** Whether a Metadata answer has named the brokers yet. */
  get knowsCluster(): boolean {
    return this.clusterSize >= 0;
  }

  /** The brokers of a Metadata answer: the ids known from now on. */
  learnCluster(brokers: readonly BrokerAddress[]): void {
    const old = this.candidates();
    const before = old[this.current % old.length];
    this.nodes.clear();
    for (const b of brokers) this.nodes.set(b.nodeId, brokerAddress(b.host, b.grpcPort));
    this.clusterSize = brokers.length;
    // Keep "any broker" calls on the broker they were using, though the candidate list changed.
    const index = before === undefined ? -1 : this.candidates().indexOf(before);
    this.current = index < 0 ? 0 : index;
  }

  /** One broker's address (a FindCoordinator answer), without forgetting the others. */
  learnBroker(broker: BrokerAddress): void {
    this.nodes.set(broker.nodeId, brokerAddress(broker.host, broker.grpcPort));
  }

  close(): void {
    this.closed = true;
    for (const channel of this.channels.values()) channel.client.close();
    this.channels.clear();
  }

  private candidates(): string[] {
    const out = [...this.bootstrap];
    for (const address of this.nodes.values()) if (!out.includes(address)) out.push(address);
    return out;
  }

  private channel(address: string): BrokerChannel {
    let channel = this.channels.get(address);
    if (channel === undefined) {
      if (this.closed) throw new Error(`broker pool is closed (asked for ${address})`);
      channel = { address, client: this.open(address) };
      this.channels.set(address, channel);
    }
    return channel;
  }
}
