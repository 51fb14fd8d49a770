/**
 * The commands a transcript may use. Adding one is adding an entry: its usage line, and a function
 * that reads its arguments (each `key=value` must be read, see Args) and acts on the environment,
 * printing what happened. A command that prints nothing outputs `ok`.
 */
import { describeConf, describeEntry, describeHardState, describeSnapshot, type InteractionEnv } from './env.ts';
import type { ConfChange } from '../../../src/server/quorum/core/types.ts';
import type { Args, Case } from './parse.ts';

export interface Command {
  usage: string;
  run(env: InteractionEnv, args: Args): void;
}

export const commands: Record<string, Command> = {
  'add-nodes': {
    usage: 'add-nodes N [voters=(1,2,3)] [prevote=false] [checkquorum=false] [election=10] [heartbeat=1] [inflight=8] [max-entries=16] [seed=N]',
    run(env, args) {
      const n = Number(args.positional[0] ?? NaN);
      if (!Number.isInteger(n) || n < 1 || args.positional.length !== 1) throw new Error('expected a number of members');
      const first = env.members.size + 1;
      const ids = Array.from({ length: n }, (_, i) => first + i);
      const voters = args.has('voters') ? args.ints('voters') : [...env.ids(), ...ids];
      env.addNodes(ids, voters, {
        preVote: args.bool('prevote', false),
        checkQuorum: args.bool('checkquorum', false),
        electionTick: args.int('election', 10),
        heartbeatTick: args.int('heartbeat', 1),
        maxInflight: args.int('inflight', 8),
        maxEntriesPerMessage: args.int('max-entries', 16),
        seed: args.has('seed') ? args.int('seed', 0) : undefined,
      });
    },
  },

  campaign: {
    usage: 'campaign ID',
    run(env, args) {
      env.input(args.id(), (r) => r.campaign());
    },
  },

  propose: {
    usage: 'propose ID DATA',
    run(env, args) {
      const data = args.positional[1];
      env.input(args.id(0, 1), (r) => {
        if (!r.propose(Buffer.from(data))) env.print(`refused: ${r.id} is ${r.role} in term ${r.term} (lead ${r.lead})`);
      });
    },
  },

  'read-index': {
    usage: 'read-index ID CONTEXT',
    run(env, args) {
      const context = args.positional[1];
      env.input(args.id(0, 1), (r) => r.readIndex(context));
    },
  },

  tick: {
    usage: 'tick ID [n=1]',
    run(env, args) {
      tick(env, args.id(), args.int('n', 1));
    },
  },

  'tick-heartbeat': {
    usage: 'tick-heartbeat ID   (heartbeatTick ticks)',
    run(env, args) {
      const id = args.id();
      tick(env, id, env.member(id).options.heartbeatTick);
    },
  },

  'tick-election': {
    usage: 'tick-election ID   (electionTick ticks)',
    run(env, args) {
      const id = args.id();
      tick(env, id, env.member(id).options.electionTick);
    },
  },

  'process-ready': {
    usage: 'process-ready ID...',
    run(env, args) {
      for (const id of env.ids(args.ids())) {
        env.print(`> ${id} ready`);
        env.nested(() => {
          if (!env.processReady(id)) env.print('nothing ready');
        });
      }
    },
  },

  'deliver-msgs': {
    usage: 'deliver-msgs [ID...] [drop=ID,...] [type=app]   (all queued messages to those members, in order sent)',
    run(env, args) {
      const type = args.string('type');
      const filter = type === undefined ? undefined : (m: { type: string }) => m.type === type;
      const deliver = args.ids();
      const drop = args.ints('drop');
      if (deliver.length === 0 && drop.length === 0) throw new Error('expected recipients or drop=');
      let n = 0;
      if (deliver.length > 0) for (const id of env.ids(deliver)) n += env.deliver(id, false, filter);
      for (const id of drop) n += env.deliver(id, true, filter);
      if (n === 0) env.print('no messages');
    },
  },

  stabilize: {
    usage: 'stabilize [ID...]   (ready handling and delivery among those members until quiet)',
    run(env, args) {
      env.stabilize(env.ids(args.ids()));
    },
  },

  isolate: {
    usage: 'isolate ID...   (cut every link of these members)',
    run(env, args) {
      for (const id of args.ids()) for (const other of env.ids()) if (other !== id) env.cutLink(id, other);
    },
  },

  cut: {
    usage: 'cut A B   (the link between A and B loses messages both ways)',
    run(env, args) {
      env.cutLink(args.id(0, 1), args.id(1));
    },
  },

  heal: {
    usage: 'heal   (every link works again)',
    run(env) {
      env.cut.clear();
    },
  },

  'raft-state': {
    usage: 'raft-state   (each member: role, term, vote, leader, commit, last index)',
    run(env) {
      for (const id of env.ids()) {
        const r = env.member(id).raft;
        env.print(`${id}: ${r.role} term=${r.term} vote=${r.vote} lead=${r.lead} commit=${r.log.committed} last=${r.log.lastIndex}`);
      }
    },
  },

  'raft-log': {
    usage: "raft-log ID   (the entries on the member's disk)",
    run(env, args) {
      const disk = env.member(args.id()).disk;
      env.print(describeHardState(disk.hardState));
      if (disk.snapshot !== undefined) env.print(describeSnapshot(disk.snapshot));
      if (disk.entries.length === 0) env.print('no entries');
      for (const e of disk.entries) env.print(describeEntry(e));
    },
  },

  'transfer-leadership': {
    usage: 'transfer-leadership ID to=ID   (the leader hands over)',
    run(env, args) {
      const to = args.int('to', 0);
      env.input(args.id(), (r) => {
        if (!r.transferLeadership(to)) env.print(`refused: ${r.id} is ${r.role} in term ${r.term}`);
      });
    },
  },

  'conf-change': {
    usage: 'conf-change ID add-learner|add-voter|remove NODE   (the leader proposes one membership change)',
    run(env, args) {
      const type = { 'add-learner': 'addLearner', 'add-voter': 'addVoter', remove: 'remove' }[args.positional[1]] as ConfChange['type'] | undefined;
      if (type === undefined) throw new Error('expected add-learner, add-voter or remove');
      const node = Number(args.positional[2]);
      env.input(args.id(0, 2), (r) => {
        if (!r.proposeConfChange({ type, node })) env.print(`refused: ${r.id} is ${r.role} in term ${r.term}, membership ${describeConf(r.conf)}`);
      });
    },
  },

  conf: {
    usage: 'conf [ID...]   (the membership as each member\'s log has it)',
    run(env, args) {
      for (const id of env.ids(args.ids())) env.print(`${id}: ${describeConf(env.member(id).raft.conf)}`);
    },
  },

  compact: {
    usage: 'compact ID [index=applied]   (the member snapshots its state machine and drops its log up to index)',
    run(env, args) {
      const id = args.id();
      const snapshot = env.compact(id, args.int('index', env.member(id).raft.log.applied));
      env.print(`${id} compacted: ${describeSnapshot(snapshot)}`);
    },
  },

  wipe: {
    usage: 'wipe ID   (the member loses its disk and restarts recovering: it votes only once a leader brings it up to date)',
    run(env, args) {
      const id = args.id();
      env.wipe(id);
      const r = env.member(id).raft;
      env.print(`${id} wiped: ${r.role} term=${r.term} last=${r.log.lastIndex} recovering=${r.recovering}`);
    },
  },

  'learn-term': {
    usage: 'learn-term ID TERM   (a recovering member takes the newest term enough of the others answered with)',
    run(env, args) {
      const id = args.id(0, 1);
      const term = args.ids()[1];
      env.input(id, (r) => r.learnTerm(term));
    },
  },

  restart: {
    usage: 'restart ID   (a new core from what its disk holds)',
    run(env, args) {
      const id = args.id();
      env.restart(id);
      const r = env.member(id).raft;
      env.print(`${id} restarted: ${r.role} term=${r.term} vote=${r.vote} commit=${r.log.committed} last=${r.log.lastIndex}`);
    },
  },
};

function tick(env: InteractionEnv, id: number, times: number): void {
  for (let i = 0; i < times; i++) env.input(id, (r) => r.tick());
}

/** Runs one block; its output, or `ok` when it printed nothing. */
export function runCase(env: InteractionEnv, c: Case): string {
  const command = commands[c.command];
  if (command === undefined) throw new Error(`unknown command ${c.command}; known: ${Object.keys(commands).join(', ')}`);
  try {
    command.run(env, c.args);
    c.args.finish();
  } catch (e) {
    throw new Error(`${(e as Error).message}\nusage: ${command.usage}`, { cause: e });
  }
  const out = env.takeOutput();
  return out === '' ? 'ok' : out;
}
