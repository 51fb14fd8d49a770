/**
 * A session that moves from a follower to the leader, as a client moves when its connection drops
 * (kazoo's partitioner test does this): a request through the follower, the connection dropped, the
 * session reopened on the leader, then writes through the leader. Three Apache ZooKeeper members
 * and three Ensemble members, from the same zoo.cfg lines.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ProcessEnsemble } from '../support/process-ensemble.ts';
import { RawClient } from '../support/raw-client.ts';

const ROUNDS = 10;

for (const server of ['zookeeper', 'ensemble'] as const) {
  describe(`a session moved from a follower to the leader: ${server}`, { timeout: 180_000 }, () => {
    // tickTime 2000, as ZooKeeper's default.
    const e = new ProcessEnsemble({ server, tickTimeMs: 2000 });
    before(async () => {
      await e.configure();
      for (const id of e.ids) e.start(id);
      await e.leader();
    });
    after(() => e.close());

    it('writes through the leader', async () => {
      const leader = await e.leader();
      const follower = e.ids.find((id) => id !== leader)!;
      const at = (id: number) => e.member(id);
      const answers: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const a = await RawClient.connect(at(follower).host, at(follower).clientPort, { timeoutMs: 10_000 });
        const { sessionId, passwd } = a.session;
        await a.exists('/');
        a.destroy();
        const l = await RawClient.connect(at(leader).host, at(leader).clientPort, { timeoutMs: 10_000, sessionId, passwd });
        assert.equal(l.session.sessionId, sessionId, 'the session is reopened on the leader');
        // Longer than the follower takes to send what it has heard (a tick or so).
        await new Promise((r) => setTimeout(r, 500));
        answers.push((await l.tryCreate(`/moved-${i}`)).err);
        await l.close();
      }
      assert.deepEqual(answers, answers.map(() => 0), 'every create answered OK');
    });
  });
}
