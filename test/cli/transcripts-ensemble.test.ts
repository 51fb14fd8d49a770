/**
 * The CLI transcripts (see transcripts-harness.ts) against three-member ensembles: three Apache
 * ZooKeeper 3.8 members (the reference) and three Ensemble members, started from the same zoo.cfg
 * lines, each CLI given every member's address. What an ensemble shows differently from a
 * standalone server (`config` lists the members) is compared with ZooKeeper's ensemble, not written
 * down.
 */
import { startProcessEnsemble } from '../support/process-ensemble.ts';
import { describeTranscripts } from './transcripts-harness.ts';

describeTranscripts('CLI transcripts on three-member ensembles, with multi-host connect strings', startProcessEnsemble);
