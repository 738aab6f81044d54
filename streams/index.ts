export { consumerNames, kvBuckets, msgIds, streamNames, subjects } from './subjects.ts';
export {
  type DeclaredConsumer,
  declareTopology,
  ensureTopology,
  type Topology,
  TopologyConfig,
  type TopologyReport,
} from './topology.ts';
export { dropFinishedWorkQueueMessages } from './work-queue.ts';
