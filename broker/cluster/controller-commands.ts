// The admin requests a controller carries out, as plain data: what any broker forwards to the
// controller, and what the controller plans against its image (controller-planner.ts). One union
// so that the forwarding wire, the controller's queue and the planner agree on the set.

import type { TopicLimits } from '../topic-registry.js';
import {
  planAlterConfigs,
  planCreatePartitions,
  planCreateTopic,
  planDeleteTopic,
  planReassign,
  planCompleteReassign,
  type CreateTopicRequest,
} from './controller-planner.js';
import type { MetadataImage } from './metadata-image.js';
import type { MetadataRecord } from './metadata-records.js';

export type ControllerCommand =
  | ({ readonly kind: 'createTopic'; readonly validateOnly: boolean } & CreateTopicRequest)
  | { readonly kind: 'deleteTopic'; readonly name: string }
  | {
      readonly kind: 'alterConfigs';
      readonly name: string;
      readonly set: Readonly<Record<string, string>>;
      readonly remove: readonly string[];
    }
  | { readonly kind: 'createPartitions'; readonly name: string; readonly count: number }
  | {
      readonly kind: 'reassign';
      readonly name: string;
      readonly moves: readonly { readonly partition: number; readonly replicas: readonly number[] }[];
    }
  /** From a partition's leader: its group's voters are the move's target. */
  | {
      readonly kind: 'completeReassign';
      readonly name: string;
      readonly partition: number;
      readonly replicas: readonly number[];
    };

/**
 * The records that carry `command` out against `image` (none for a validate-only create), or the
 * typed error that refuses it. `newTopicId` draws the id of a topic being created.
 */
export function planCommand(
  image: MetadataImage,
  command: ControllerCommand,
  newTopicId: () => string,
  limits: TopicLimits,
): MetadataRecord[] {
  switch (command.kind) {
    case 'createTopic': {
      const records = planCreateTopic(image, command, newTopicId(), limits);
      return command.validateOnly ? [] : records;
    }
    case 'deleteTopic':
      return planDeleteTopic(image, command.name);
    case 'alterConfigs':
      return planAlterConfigs(image, command.name, command.set, command.remove, limits);
    case 'createPartitions':
      return planCreatePartitions(image, command.name, command.count, limits);
    case 'reassign':
      return planReassign(image, command.name, command.moves);
    case 'completeReassign':
      return planCompleteReassign(image, command.name, command.partition, command.replicas);
  }
}
