// Topic ids both ways, for the Kafka APIs that name topics by id (Fetch from v13, DeleteTopics from
// v6, ConsumerGroupHeartbeat). A topic's id by name is the broker's own answer. Names by id are
// cached, and a cached name is checked against the topic of that name now: a topic deleted and
// created again under its old name has a new id, and its old id must not reach it. The cache is
// rebuilt from the broker's topics when an id is not in it (a topic created since, or none).

import type { Broker } from '../broker.js';

export class TopicIds {
  private byId = new Map<string, string>();
  constructor(private readonly broker: Broker) {}

  /** The topic's id, or undefined when there is no such topic. */
  id(name: string): string | undefined {
    return this.broker.metadata([name], false)[0]?.topicId ?? undefined;
  }

  /** The name of the topic with this id now, or undefined when none has it. */
  name(id: string): string | undefined {
    const cached = this.byId.get(id);
    if (cached !== undefined && this.id(cached) === id) return cached;
    this.byId = new Map(
      this.broker.metadata([], false).flatMap((t) => (t.topicId === null ? [] : [[t.topicId, t.name]])),
    );
    return this.byId.get(id);
  }
}
