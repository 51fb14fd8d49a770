/** The CLI transcripts (see transcripts-harness.ts) against a standalone server of each kind. */
import { describeTranscripts } from './transcripts-harness.ts';

describeTranscripts('CLI transcripts: zkCli.sh and ensemble cli, against Apache ZooKeeper and Ensemble');
