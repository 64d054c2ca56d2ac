// Every Kafka API weir has message definitions for; the code generator reads this list.

import type { ApiDef } from '../schema.js';
import { ApiVersions } from './api-versions.js';
import { Metadata } from './metadata.js';

export const KAFKA_APIS: readonly ApiDef[] = [ApiVersions, Metadata];
