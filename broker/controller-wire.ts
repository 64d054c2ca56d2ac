// Controller commands (cluster/controller-commands.ts) on the replication listener's wire
// (proto/replication.proto, ControllerRequest), both ways. What comes off the wire is checked
// again by the controller's planner, so this only maps fields; a request that carries no command
// is refused here.

import { WeirError } from '../proto/errors.js';
import type {
  ControllerRequest,
  ControllerRequest__Output,
} from '../proto/generated/weir/replication/v1/ControllerRequest.js';
import type { ControllerCommand } from './cluster/controller-commands.js';

/** The command's fields of a ControllerRequest (cluster id and sender are the caller's). */
export function commandToWire(
  command: ControllerCommand,
): Pick<
  ControllerRequest,
  | 'command'
  | 'createTopic'
  | 'deleteTopic'
  | 'alterConfigs'
  | 'createPartitions'
  | 'reassign'
  | 'completeReassign'
> {
  switch (command.kind) {
    case 'createTopic':
      return {
        createTopic: {
          name: command.name,
          partitions: command.partitions,
          replicationFactor: command.replicationFactor,
          configs: { ...command.configs },
          internal: command.internal === true,
          validateOnly: command.validateOnly,
        },
      };
    case 'deleteTopic':
      return { deleteTopic: { name: command.name } };
    case 'alterConfigs':
      return { alterConfigs: { name: command.name, set: { ...command.set }, remove: [...command.remove] } };
    case 'createPartitions':
      return { createPartitions: { name: command.name, count: command.count } };
    case 'reassign':
      return {
        reassign: {
          name: command.name,
          moves: command.moves.map((m) => ({ partition: m.partition, replicas: [...m.replicas] })),
        },
      };
    case 'completeReassign':
      return {
        completeReassign: {
          name: command.name,
          partition: command.partition,
          replicas: [...command.replicas],
        },
      };
  }
}

/** The command a forwarded request carries; INVALID_REQUEST when it carries none. */
export function commandFromWire(request: ControllerRequest__Output): ControllerCommand {
  const { createTopic, deleteTopic, alterConfigs, createPartitions, reassign, completeReassign } = request;
  switch (request.command) {
    case 'createTopic':
      if (createTopic)
        return {
          kind: 'createTopic',
          name: createTopic.name,
          partitions: createTopic.partitions,
          replicationFactor: createTopic.replicationFactor,
          configs: { ...createTopic.configs },
          internal: createTopic.internal,
          validateOnly: createTopic.validateOnly,
        };
      break;
    case 'deleteTopic':
      if (deleteTopic) return { kind: 'deleteTopic', name: deleteTopic.name };
      break;
    case 'alterConfigs':
      if (alterConfigs)
        return {
          kind: 'alterConfigs',
          name: alterConfigs.name,
          set: { ...alterConfigs.set },
          remove: [...alterConfigs.remove],
        };
      break;
    case 'createPartitions':
      if (createPartitions)
        return { kind: 'createPartitions', name: createPartitions.name, count: createPartitions.count };
      break;
    case 'reassign':
      if (reassign)
        return {
          kind: 'reassign',
          name: reassign.name,
          moves: reassign.moves.map((m) => ({ partition: m.partition, replicas: [...m.replicas] })),
        };
      break;
    case 'completeReassign':
      if (completeReassign)
        return {
          kind: 'completeReassign',
          name: completeReassign.name,
          partition: completeReassign.partition,
          replicas: [...completeReassign.replicas],
        };
      break;
    default:
      break;
  }
  throw new WeirError('INVALID_REQUEST', `controller request from broker ${request.from} carries no command`);
}
