/**
 * Raft paper section 5.3, the follower's side of AppendEntries: a success acknowledges only what the
 * message proved to match (prevLogIndex plus the entries it carried), never the follower's whole log.
 * A follower that acknowledged its own stale suffix would let a leader count it toward committing
 * entries the follower does not hold. The random simulation rarely builds this schedule, so it is
 * pinned here.
 */
import { describe, expect, it } from 'vitest';
import { RaftNode, type AppendResponseMessage, type Entry, type Message } from '../../../actors/raft/index.js';
import { createRng } from '../../../runtime/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function follower(terms: readonly number[]): RaftNode {
  const entries: Entry[] = terms.map((term, position) => ({ type: 'normal', term, index: position + 1, data: bytes(`old-${position + 1}`) }));
  return new RaftNode(
    { id: 'f', electionTicks: 10, heartbeatTicks: 1, rng: createRng(3), initialMembership: { voters: ['f', 'l', 'x'], learners: [] } },
    { hardState: { term: terms.at(-1) ?? 0, vote: null, commit: 0 }, snapshot: null, entries },
  );
}

/** Steps one message and returns the append responses the follower sends once its Ready is durable. */
function respond(node: RaftNode, message: Message): AppendResponseMessage[] {
  node.step(message);
  const responses: AppendResponseMessage[] = [];
  while (node.hasReady()) {
    const ready = node.ready();
    for (const sent of ready.messages) if (sent.type === 'raft.appendResponse') responses.push(sent);
    node.advance();
  }
  return responses;
}

describe('5.3 a follower acknowledges only what the append covered', () => {
  it('an empty append at prevLogIndex 2 acknowledges index 2, not the stale entries 3 and 4 behind it', () => {
    const node = follower([1, 1, 1, 1]);
    const [response] = respond(node, { type: 'raft.append', from: 'l', to: 'f', term: 2, prevLogIndex: 2, prevLogTerm: 1, entries: [], commit: 0 });
    expect(response).toMatchObject({ reject: false, index: 2, term: 2 });
  });

  it('an append carrying entry 3 of the new term acknowledges 3 and drops the conflicting stale suffix', () => {
    const node = follower([1, 1, 1, 1]);
    const entry: Entry = { type: 'normal', term: 2, index: 3, data: bytes('new-3') };
    const [response] = respond(node, { type: 'raft.append', from: 'l', to: 'f', term: 2, prevLogIndex: 2, prevLogTerm: 1, entries: [entry], commit: 0 });
    expect(response).toMatchObject({ reject: false, index: 3 });
    expect(node.status().lastIndex).toBe(3);
    expect(node.term(3)).toBe(2);
  });

  it('a matching append of entries the follower already holds acknowledges their end, keeping the rest', () => {
    const node = follower([1, 1, 1, 1]);
    const held: Entry = { type: 'normal', term: 1, index: 3, data: bytes('old-3') };
    const [response] = respond(node, { type: 'raft.append', from: 'l', to: 'f', term: 1, prevLogIndex: 2, prevLogTerm: 1, entries: [held], commit: 0 });
    expect(response).toMatchObject({ reject: false, index: 3 });
    expect(node.status().lastIndex).toBe(4);
  });
});
