// Messages the scenario tests of one Raft replica send it by hand.

import type { AppendRequest, AppendResponse, Entry } from '../../broker/raft/messages.js';

/** A follower's success answer: its log matches, durably, below `end`. */
export function appendAck(from: number, to: number, term: number, end: number): AppendResponse {
  return {
    type: 'appendResponse',
    from,
    to,
    term,
    success: true,
    prevOffset: end - 1,
    matchEnd: end,
    durableEnd: end,
    hintOffset: -1,
    hintTerm: 0,
    incarnation: 0,
    amnesiac: false,
  };
}

/** A leader's append (its receiver's incarnation not yet known). */
export function append(
  from: number,
  to: number,
  term: number,
  prevOffset: number,
  prevTerm: number,
  entries: Entry[],
  commitEnd = 0,
  fromStart = false,
): AppendRequest {
  return {
    type: 'append',
    from,
    to,
    term,
    prevOffset,
    prevTerm,
    entries,
    commitEnd,
    fromStart,
    startMembership: null,
    startState: null,
    incarnation: -1,
    rejoinEnd: 0,
  };
}
