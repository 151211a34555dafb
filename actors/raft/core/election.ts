/**
 * Leader election (paper 5.2, 5.4.1) with pre-vote (thesis 9.6). A replica whose election timer
 * fires first asks the voters whether they would vote for it in the next term, without changing any
 * state; only when a majority would does it increment its term and ask for real votes. A replica cut
 * off from the cluster therefore cannot inflate its term and depose a working leader on return.
 * A vote is granted only to a candidate whose log is at least as up-to-date as the voter's, which is
 * what gives leader completeness.
 */
import { assert } from '../../../runtime/errors.js';
import { voteOutcome } from './quorum.js';
import type { Raft } from './raft.js';
import { broadcastAppend } from './replication.js';
import type { PreVoteMessage, VoteMessage, VoteResponseMessage } from './types.js';

/** How an election starts: a pre-vote round, a real vote, or a vote requested by leader transfer. */
export type CampaignKind = 'preVote' | 'vote' | 'transfer';

/** Starts a (pre-)campaign: votes for itself and asks every other voter. */
export function campaign(raft: Raft, kind: CampaignKind): void {
  let term: number;
  if (kind === 'preVote') {
    raft.becomePreCandidate();
    term = raft.term + 1;
  } else {
    raft.becomeCandidate();
    term = raft.term;
  }
  raft.votes.set(raft.id, true);
  const voters = raft.membership().voters;
  if (voteOutcome(voters, raft.votes) === 'won') return won(raft);
  const lastLogIndex = raft.log.lastIndex();
  const lastLogTerm = raft.log.lastTerm();
  for (const voter of voters) {
    if (voter === raft.id) continue;
    const header = { from: raft.id, to: voter, term, lastLogIndex, lastLogTerm };
    if (kind === 'preVote') raft.send({ ...header, type: 'raft.preVote' });
    else raft.send({ ...header, type: 'raft.vote', transfer: kind === 'transfer' });
  }
}

/** Paper 5.2 and 5.4.1: grant at most one vote per term, and only to an up-to-date log. */
export function handleVoteRequest(raft: Raft, message: PreVoteMessage | VoteMessage): void {
  const responseType = message.type === 'raft.preVote' ? 'raft.preVoteResponse' : 'raft.voteResponse';
  // A pre-vote for a future term is granted on the log alone: it promises nothing.
  const canVote =
    raft.vote === message.from ||
    (raft.vote === null && raft.leader === null) ||
    (message.type === 'raft.preVote' && message.term > raft.term);
  if (canVote && raft.log.isUpToDate(message.lastLogIndex, message.lastLogTerm)) {
    raft.send({ type: responseType, from: raft.id, to: message.from, term: message.term, reject: false });
    if (message.type === 'raft.vote') {
      assert(message.term === raft.term, 'a vote is cast in the voter\'s current term');
      raft.electionElapsed = 0;
      raft.vote = message.from;
    }
    return;
  }
  raft.send({ type: responseType, from: raft.id, to: message.from, term: raft.term, reject: true });
}

/** Counts an answer to our (pre-)campaign; the role matched the answer's type before this is called. */
export function handleVoteResponse(raft: Raft, message: VoteResponseMessage): void {
  // A grant of a pre-vote echoes the term we asked for; a grant from an older round does not count.
  if (message.type === 'raft.preVoteResponse' && !message.reject && message.term !== raft.term + 1) return;
  if (!raft.votes.has(message.from)) raft.votes.set(message.from, !message.reject);
  switch (voteOutcome(raft.membership().voters, raft.votes)) {
    case 'won': return won(raft);
    case 'lost': return raft.becomeFollower(raft.term, null);
    case 'pending': return;
  }
}

function won(raft: Raft): void {
  if (raft.role === 'preCandidate') return campaign(raft, 'vote');
  raft.becomeLeader();
  broadcastAppend(raft, true);
}
