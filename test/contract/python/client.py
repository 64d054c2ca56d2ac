"""A weir client in Python, from weir.proto alone: what a user of another language writes.

Usage: python3 client.py HOST:PORT

Generates the stubs with grpc_tools into a temp dir, then against the broker at HOST:PORT:
produces in the plain records form, idempotent (InitProducerId, then a retry that must not
duplicate, then a sequence gap that must be refused), fetches the records back, and runs one
consumer group member (heartbeats until it owns partitions, commits an offset, reads it back,
leaves). Prints one line per step; exits non-zero on the first surprise.
Needs grpcio and grpcio-tools (scripts/ci/codegen.sh installs the pinned versions).
"""

import sys
import tempfile
import time
import uuid
from pathlib import Path

import grpc
from grpc_tools import protoc

PROTO_DIR = Path(__file__).resolve().parents[3] / "proto"
TOPIC = "py-orders"
GROUP = "py-group"


def generate(out: str) -> None:
    include = str(Path(protoc.__file__).parent / "_proto")
    args = ["protoc", f"-I{PROTO_DIR}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", "weir.proto"]
    if protoc.main(args) != 0:
        sys.exit("could not generate the stubs from weir.proto")
    sys.path.insert(0, out)


def check(cond: bool, what: str) -> None:
    if not cond:
        sys.exit(f"unexpected: {what}")


def main(address: str) -> None:
    with tempfile.TemporaryDirectory() as out:
        generate(out)
        import weir_pb2 as pb
        import weir_pb2_grpc as rpc

        with grpc.insecure_channel(address) as channel:
            weir = rpc.WeirStub(channel)
            weir.CreateTopic(pb.CreateTopicRequest(name=TOPIC, partitions=2), timeout=10)

            ids = weir.InitProducerId(pb.InitProducerIdRequest(), timeout=10)
            values = [b"apple", b"banana", b"cherry"]

            def produce(base_sequence: int, batch: list) -> pb.PartitionProduceResult:
                data = pb.PartitionData(
                    topic=TOPIC,
                    partition=0,
                    records=[pb.Record(value=v) for v in batch],
                    producer_id=ids.producer_id,
                    producer_epoch=ids.producer_epoch,
                    base_sequence=base_sequence,
                )
                res = weir.Produce(pb.ProduceRequest(acks=pb.ACKS_ALL, partitions=[data]), timeout=10)
                return res.results[0]

            first = produce(0, values)
            check(not first.HasField("error"), f"produce failed: {first.error}")
            print(f"produced {first.base_offset} {first.last_offset}")
            retry = produce(0, values)
            check(not retry.HasField("error"), f"retry failed: {retry.error}")
            print(f"retried {retry.base_offset} {retry.last_offset}")
            gap = produce(10, [b"late"])
            print(f"gap {gap.error.code}")

            fetched = weir.Fetch(
                pb.FetchRequest(partitions=[pb.FetchPartition(topic=TOPIC, partition=0, offset=0)], as_records=True),
                timeout=10,
            )
            result = fetched.results[0]
            check(not result.HasField("error"), f"fetch failed: {result.error}")
            got = ",".join(r.value.decode() for r in result.records)
            print(f"fetched {got} next {result.next_offset} hw {result.high_watermark}")

            # A member names itself, so a join resent after a lost answer finds the same member.
            member_id = f"py-{uuid.uuid4()}"

            def heartbeat(epoch: int, owned: list) -> pb.GroupHeartbeatResponse:
                # Every heartbeat carries the whole subscription and what the member owns.
                request = pb.GroupHeartbeatRequest(
                    group_id=GROUP,
                    member_id=member_id,
                    member_epoch=epoch,
                    client_id="py",
                    subscribed_topics=[TOPIC],
                    owned=owned,
                )
                return weir.GroupHeartbeat(request, timeout=10)

            beat = heartbeat(0, [])
            check(beat.member_id == member_id, f"member id {beat.member_id}, not the one it asked for")
            deadline = time.monotonic() + 15
            while not beat.assignment:
                check(time.monotonic() < deadline, "no partitions assigned in 15 s")
                time.sleep(min(beat.heartbeat_interval_ms, 200) / 1000)
                beat = heartbeat(beat.member_epoch, [])
            owned = sorted(p for tp in beat.assignment if tp.topic == TOPIC for p in tp.partitions)
            print(f"assigned {TOPIC} {','.join(map(str, owned))}")
            # Confirm what it owns, as a member does in its next heartbeat.
            beat = heartbeat(beat.member_epoch, beat.assignment)

            commit = weir.OffsetCommit(
                pb.OffsetCommitRequest(
                    group_id=GROUP,
                    member_id=member_id,
                    generation=beat.member_epoch,
                    partitions=[pb.OffsetCommitPartition(topic=TOPIC, partition=0, offset=result.next_offset)],
                ),
                timeout=10,
            )
            check(not commit.results[0].HasField("error"), f"commit failed: {commit.results[0].error}")
            committed = weir.OffsetFetch(
                pb.OffsetFetchRequest(group_id=GROUP, partitions=[pb.TopicPartitions(topic=TOPIC, partitions=[0])]),
                timeout=10,
            )
            print(f"committed {committed.offsets[0].offset}")

            left = heartbeat(-1, [])
            described = weir.DescribeGroup(pb.DescribeGroupRequest(group_id=GROUP), timeout=10)
            print(f"left {left.member_epoch} group {described.state}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 client.py HOST:PORT")
    main(sys.argv[1])
