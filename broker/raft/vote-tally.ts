// The answers to one round of (pre-)voting. A replica counts each voter once however often the
// network duplicates its answer, and an answer can change only by the voter's latest word.

export class VoteTally {
  private readonly votes = new Map<number, boolean>();

  constructor(
    self: number,
    private readonly quorum: number,
  ) {
    this.votes.set(self, true);
  }

  record(voter: number, granted: boolean): void {
    this.votes.set(voter, granted);
  }

  get won(): boolean {
    let granted = 0;
    for (const g of this.votes.values()) if (g) granted++;
    return granted >= this.quorum;
  }
}
