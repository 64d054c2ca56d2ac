// Topic names by topic id, for the Kafka APIs that name topics by id (Fetch from v13, DeleteTopics
// from v6). The map is rebuilt from the broker's topics when an id is not in it: a topic created
// since, or one that does not exist.

import type { Broker } from '../broker.js';

export class TopicIds {
  private byId = new Map<string, string>();
  constructor(private readonly broker: Broker) {}

  name(id: string): string | undefined {
    let name = this.byId.get(id);
    if (name === undefined) {
      this.byId = new Map(
        this.broker.metadata([], false).flatMap((t) => (t.topicId === null ? [] : [[t.topicId, t.name]])),
      );
      name = this.byId.get(id);
    }
    return name;
  }
}
