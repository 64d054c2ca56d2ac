// The answers to one round of (pre-)voting. A replica counts each voter once however often the
// network duplicates its answer, and an answer can change only by the voter's latest word.
//
// A voter that may have lost entries it once acknowledged (amnesiac: its page cache lost in a power
// loss, or its data directory wiped) answers as usual but says so, and its grant does not count:
// the entries it lost may be exactly the ones that made it refuse this candidate. Only when a
// majority of the group says it is amnesiac (the whole group lost power, which no flush policy
// short of fsync survives) do such grants count, so that the group can elect a leader again.

export class VoteTally {
  private readonly votes = new Map<number, { granted: boolean; amnesiac: boolean }>();

  constructor(
    self: number,
    private readonly quorum: number,
    selfAmnesiac: boolean,
    /** Negative control only: count every grant as if no voter had lost anything. */
    private readonly ignoreAmnesia = false,
    /** The candidate is a voter of the configuration it campaigns under (else its own vote is no vote). */
    selfVotes = true,
  ) {
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
    return whole >= this.quorum || (amnesiac >= this.quorum && granted >= this.quorum);
  }
}
