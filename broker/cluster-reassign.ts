// The moves (reassignments) of the partitions this broker leads, carried out a step per round
// (cluster/reassignment.ts says which step). The controller records a move's target; each round,
// the leader of each moving partition proposes the next membership change of its Raft group, hands
// its leadership over when it is itself leaving, and once the group's voters are the target asks
// the controller to make the target the partition's replicas. Then every broker no longer holding
// a replica deletes its copy (cluster-topics.ts).
//
// A refusal by the Raft core (a change still in flight, a learner not caught up, a transfer to a
// replica behind) is not an error: the next round asks again. Nothing here is durable: a new
// leader (after a failover, or the handover of step 3) reads where its group stands from its own
// log and goes on from there.

import type { ControllerCommand } from './cluster/controller-commands.js';
import type { MetadataImage } from './cluster/metadata-image.js';
import { nextReassignStep } from './cluster/reassignment.js';
import type { ReplicaManager } from './replica/replica-manager.js';

export interface ReassignerDeps {
  readonly self: number;
  readonly image: MetadataImage;
  readonly replicas: ReplicaManager;
  /** Carries out an admin request at the controller (ClusterMember.request). */
  readonly request: (command: ControllerCommand) => Promise<void>;
  /** Each step taken, and a completion that failed (for the log). */
  readonly report: (message: string) => void;
}

export class Reassigner {
  /** Partitions whose completion is being asked for, so a round does not ask twice. */
  private readonly completing = new Set<string>();
  /** The last step reported per partition, so a step retried every round is reported once. */
  private readonly lastReported = new Map<string, string>();

  constructor(private readonly deps: ReassignerDeps) {}

  /** Whether `topic`/`partition` is moving (the balancer leaves its leadership alone meanwhile). */
  moving(topic: string, partition: number): boolean {
    return (this.deps.image.topic(topic)?.partitions[partition]?.target ?? null) !== null;
  }

  /** One step of every move whose partition this broker leads. */
  round(): void {
    const { image, replicas, self } = this.deps;
    for (const key of this.lastReported.keys()) {
      const [topic, id] = splitKey(key);
      if (!this.moving(topic, id)) this.lastReported.delete(key);
    }
    for (const topic of image.topics()) {
      topic.partitions.forEach(({ target }, id) => {
        if (target === null) return;
        const p = replicas.find(topic.name, id);
        if (p === undefined || p.role !== 'leader') return;
        const at = replicas.membershipOf(p);
        if (at === undefined) return;
        const key = `${topic.name}/${id}`;
        const step = nextReassignStep(at.membership, target, self, at.committed);
        switch (step.kind) {
          case 'wait':
            return;
          case 'change': {
            const refused = replicas.proposeMembership(p, step.change);
            if (refused === null) this.note(key, `${key}: ${step.change.kind} broker ${step.change.id}`);
            return;
          }
          case 'transfer':
            for (const to of step.to)
              if (p.transferLeadership(to) === null) {
                this.note(key, `${key}: handing leadership to broker ${to}, which goes on with the move`);
                return;
              }
            return;
          case 'done':
            this.complete(topic.name, id, target);
            return;
        }
      });
    }
  }

  private complete(topic: string, partition: number, target: readonly number[]): void {
    const key = `${topic}/${partition}`;
    if (this.completing.has(key)) return;
    this.completing.add(key);
    this.deps
      .request({ kind: 'completeReassign', name: topic, partition, replicas: [...target] })
      .then(
        () => this.note(key, `${key}: moved to brokers ${target.join(', ')}`),
        (err: unknown) =>
          this.deps.report(
            `${key}: recording the move to brokers ${target.join(', ')} failed (asked again next round): ${String(err)}`,
          ),
      )
      .finally(() => this.completing.delete(key));
  }

  private note(key: string, message: string): void {
    if (this.lastReported.get(key) === message) return;
    this.lastReported.set(key, message);
    this.deps.report(message);
  }
}

function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf('/');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}
