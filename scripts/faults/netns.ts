// A network of Linux network namespaces for fault runs: one namespace per broker, each with a veth
// pair whose other end sits on a bridge in the host's namespace, and addresses in a /24 of
// 10.200.0.0/13 picked at random (and not already routed here). The bridge holds .1, so the test
// process reaches every broker directly; broker i holds .(11 + i).
//
// Links are cut inside the namespaces with nftables (one `inet` table per namespace, an input and
// an output chain), never on the host: a cut drops packets from one broker's address to another's,
// which TCP sees as silence, as a pulled cable or a dead switch port, rather than as a refused
// connection. The host's own traffic to the brokers (metrics, clients) is never cut.
//
// Docker's daemon sets the FORWARD policy to DROP, and with br_netfilter loaded bridged frames go
// through that chain: without an ACCEPT for this bridge its namespaces could not reach each other.
// The rule is inserted for this bridge only and removed at destroy(), with the namespaces and the
// bridge; destroy() also runs at process exit, so an aborted run leaves nothing behind.
//
// Needs root, `ip` (iproute2) and `nft`; `namespacesUnavailable()` says why not, for a clear skip.

import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';

const TABLE = 'weirfault';
/** Each cut and heal is a handful of commands: bounded, so a wedged `ip` cannot hang a run. */
const COMMAND_TIMEOUT_MS = 10_000;

function run(cmd: string, args: readonly string[], input?: string): string {
  return execFileSync(cmd, args, {
    input,
    timeout: COMMAND_TIMEOUT_MS,
    stdio: ['pipe', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
}

function tryRun(cmd: string, args: readonly string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/** Why namespaces cannot be used here, or null when they can (root, ip, nft, a namespace made). */
export function namespacesUnavailable(): string | null {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root to include these tests)';
  if (!tryRun('ip', ['-V'])) return '`ip` (iproute2) is not installed';
  if (!tryRun('nft', ['--version'])) return '`nft` (nftables) is not installed';
  const probe = `wfprobe${randomBytes(2).toString('hex')}`;
  if (!tryRun('ip', ['netns', 'add', probe])) return '`ip netns add` failed: no namespace support here';
  tryRun('ip', ['netns', 'del', probe]);
  return null;
}

/** A /24 in 10.200.0.0/13 that no route here mentions yet, as its first three octets. */
function freeSubnet(): string {
  const routes = run('ip', ['-4', 'route', 'show', 'table', 'all']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const prefix = `10.${200 + randomInt(8)}.${randomInt(256)}`;
    if (!routes.includes(`${prefix}.`)) return prefix;
  }
  throw new Error('no free /24 in 10.200.0.0/13 after 50 tries');
}

export class NamespaceNet {
  readonly namespaces: readonly string[];
  /** Broker i's address (0-based). */
  readonly addresses: readonly string[];
  readonly bridge: string;
  readonly hostAddress: string;
  private forwardRule = false;
  private destroyed = false;
  private readonly onExit = (): void => this.destroy();

  private constructor(tag: string, subnet: string, count: number) {
    this.bridge = `wf${tag}br`;
    this.hostAddress = `${subnet}.1`;
    this.namespaces = Array.from({ length: count }, (_, i) => `wf${tag}n${i + 1}`);
    this.addresses = Array.from({ length: count }, (_, i) => `${subnet}.${11 + i}`);
  }

  /** Creates `count` namespaces on a new bridge; on any failure, removes what it made and throws. */
  static create(count: number): NamespaceNet {
    const net = new NamespaceNet(randomBytes(2).toString('hex'), freeSubnet(), count);
    process.once('exit', net.onExit);
    try {
      net.build();
    } catch (err) {
      net.destroy();
      throw err;
    }
    return net;
  }

  /** `argv` to run a program inside broker i's namespace (ip execs it: the pid is the program's). */
  wrap(i: number, argv: readonly string[]): string[] {
    return ['ip', 'netns', 'exec', this.namespaces[i]!, ...argv];
  }

  /** Drops what broker `from` sends to broker `to` (and, unless `oneWay`, what `to` sends back). */
  cut(from: number, to: number, oneWay = false): void {
    this.nft(from, ['add', 'rule', 'inet', TABLE, 'output', 'ip', 'daddr', this.addresses[to]!, 'drop']);
    this.nft(to, ['add', 'rule', 'inet', TABLE, 'input', 'ip', 'saddr', this.addresses[from]!, 'drop']);
    if (!oneWay) this.cut(to, from, true);
  }

  /** Cuts broker i off from every other broker, both ways (it alone is the minority). */
  isolate(i: number): void {
    for (let j = 0; j < this.namespaces.length; j++) if (j !== i) this.cut(i, j);
  }

  /**
   * A bridge topology: `middle` still reaches everyone, every other pair is cut, so the two sides
   * talk only through it (with three brokers: 1 and 3 cannot talk, 2 talks to both).
   */
  bridgeThrough(middle: number): void {
    for (let a = 0; a < this.namespaces.length; a++)
      for (let b = a + 1; b < this.namespaces.length; b++) if (a !== middle && b !== middle) this.cut(a, b);
  }

  /** Every cut removed. */
  heal(): void {
    for (let i = 0; i < this.namespaces.length; i++)
      for (const chain of ['input', 'output']) this.nft(i, ['flush', 'chain', 'inet', TABLE, chain]);
  }

  /** The rules in broker i's namespace, as nft lists them (for a failing run's report). */
  rules(i: number): string {
    return run('ip', ['netns', 'exec', this.namespaces[i]!, 'nft', 'list', 'table', 'inet', TABLE]);
  }

  /** Removes the namespaces (and with them the veth pairs), the bridge and the FORWARD rule. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    for (const ns of this.namespaces) tryRun('ip', ['netns', 'del', ns]);
    tryRun('ip', ['link', 'del', this.bridge]);
    if (this.forwardRule) tryRun('iptables', ['-D', 'FORWARD', ...this.forwardMatch()]);
  }

  private build(): void {
    run('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    run('ip', ['addr', 'add', `${this.hostAddress}/24`, 'dev', this.bridge]);
    run('ip', ['link', 'set', this.bridge, 'up']);
    if (tryRun('iptables', ['-V'])) {
      run('iptables', ['-I', 'FORWARD', ...this.forwardMatch()]);
      this.forwardRule = true;
    }
    this.namespaces.forEach((ns, i) => this.buildNamespace(ns, i));
  }

  private buildNamespace(ns: string, i: number): void {
    const host = `${this.bridge.slice(0, -2)}h${i + 1}`;
    const inside = `${this.bridge.slice(0, -2)}c${i + 1}`;
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', inside]);
    run('ip', ['link', 'set', inside, 'netns', ns]);
    run('ip', ['link', 'set', host, 'master', this.bridge]);
    run('ip', ['link', 'set', host, 'up']);
    run('ip', ['-n', ns, 'link', 'set', inside, 'name', 'eth0']);
    run('ip', ['-n', ns, 'addr', 'add', `${this.addresses[i]}/24`, 'dev', 'eth0']);
    run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const table =
      `table inet ${TABLE} {\n` +
      '  chain input { type filter hook input priority 0; policy accept; }\n' +
      '  chain output { type filter hook output priority 0; policy accept; }\n' +
      '}\n';
    run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], table);
  }

  private forwardMatch(): string[] {
    return ['-i', this.bridge, '-o', this.bridge, '-j', 'ACCEPT'];
  }

  private nft(i: number, args: readonly string[]): void {
    run('ip', ['netns', 'exec', this.namespaces[i]!, 'nft', ...args]);
  }
}
