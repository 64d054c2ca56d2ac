// The answers to one round of (pre-)voting. A replica counts each voter once however often the
// network duplicates its answer, and an answer can change only by the voter's latest word.
//
// A voter that may have lost entries it once acknowledged (amnesiac: its page cache lost in a power
// loss, or its data directory wiped) answers as usual but says so, and its grant does not count:
// the entries it lost may be exactly the ones that made it refuse this candidate. Only when a
// majority of the group says it is amnesiac (the whole group lost power, which no flush policy
// short of fsync survives) do such grants count, so that the group can elect a leader again.
//
// What a won election must have is a whole voter in every majority that could hold a committed
// entry: then one of them holds the entry and refuses a candidate without it. Whole grants from
// half the group (rounded up) give that, because two sets of ceil(n/2) and floor(n/2) + 1 voters
// meet. In a group of an odd size that is the majority itself; in one of an even size it is one
// fewer, and a majority of grants with that many whole ones wins. Without that a group of two with
// one amnesiac replica never elects anyone once the whole one's log is behind (a new partition's
// replicas both start amnesiac, and a power loss can leave the leader's log behind the follower's).
// That argument holds within one configuration only, so the replica allows it only while its group
// keeps its first configuration (RaftNode.halfWholeSuffices); after a membership change, a whole
// majority it is.

export class VoteTally {
  private readonly votes = new Map<number, { granted: boolean; amnesiac: boolean }>();

  /** Whole grants that, with a majority of grants, win: half the voters, rounded up. */
  private readonly wholeNeeded: number;

  constructor(
    self: number,
    private readonly quorum: number,
    /** The voters of the configuration campaigned under. */
    voters: number,
    selfAmnesiac: boolean,
    /** Negative control only: count every grant as if no voter had lost anything. */
    private readonly ignoreAmnesia = false,
    /** The candidate is a voter of the configuration it campaigns under (else its own vote is no vote). */
    selfVotes = true,
    /** Negative control only: a group of an even size needs a majority of whole grants. */
    wholeMajorityOnly = false,
  ) {
    this.wholeNeeded = wholeMajorityOnly ? quorum : Math.ceil(voters / 2);
    if (selfVotes) this.votes.set(self, { granted: true, amnesiac: selfAmnesiac });
  }

  record(voter: number, granted: boolean, amnesiac: boolean): void {
    this.votes.set(voter, { granted, amnesiac });
  }

  get won(): boolean {
    let whole = 0;
    let granted = 0;
    let amnesiac = 0;
    for (const v of this.votes.values()) {
      if (v.amnesiac) amnesiac++;
      if (!v.granted) continue;
      granted++;
      if (!v.amnesiac || this.ignoreAmnesia) whole++;
    }
    if (granted < this.quorum) return false;
    return whole >= this.wholeNeeded || amnesiac >= this.quorum;
  }
}
