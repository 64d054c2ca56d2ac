#!/usr/bin/env bash
# CI: proves proto/weir.proto generates working code for other languages, with the tools users of
# those languages run (protoc from grpcio-tools, protoc-gen-go, protoc-gen-go-grpc), pinned:
#   Python: generates the messages and the gRPC stubs and imports them (proto/replication.proto's
#           too, which then decode the golden envelope weir's encoder wrote);
#   Go:     generates the messages and the gRPC service and compiles them in a scratch module.
# The Python it runs is $WEIR_PYTHON when set (one with the pinned grpcio and grpcio-tools, as
# .ci/run passes), else the one scripts/ci/python-env.sh installs them for (a virtualenv it makes;
# see there), which the Python client test (test/contract/python-client.test.ts) runs too.
# Needs python3 (3.11) with venv or pip, and go (1.26); fails on any error in installing,
# generating or compiling. Nothing is written to the work tree.
set -euo pipefail
cd "$(dirname "$0")/../.."

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
GRPC_GO_VERSION=v1.85.0

if [ -n "${WEIR_PYTHON:-}" ]; then PYTHON=$WEIR_PYTHON; else PYTHON=$(bash scripts/ci/python-env.sh); fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "codegen: Python stubs ($PYTHON)"
mkdir -p "$work/py"
"$PYTHON" -m grpc_tools.protoc -I proto --python_out="$work/py" --pyi_out="$work/py" \
  --grpc_python_out="$work/py" proto/weir.proto
PYTHONPATH="$work/py" "$PYTHON" - <<'EOF'
import weir_pb2, weir_pb2_grpc
stub = weir_pb2_grpc.WeirStub
assert hasattr(weir_pb2_grpc, "WeirServicer"), "no servicer generated"
data = weir_pb2.PartitionData(topic="t", partition=0, producer_id=1, producer_epoch=0, base_sequence=0)
assert data.HasField("producer_id") and not weir_pb2.PartitionData().HasField("producer_id")
assert weir_pb2.PartitionData.FromString(data.SerializeToString()) == data
print("codegen: Python stubs import; services:", ", ".join(weir_pb2.DESCRIPTOR.services_by_name))
EOF

echo "codegen: Python stubs of proto/replication.proto, decoding the golden envelope"
"$PYTHON" -m grpc_tools.protoc -I proto --python_out="$work/py" --pyi_out="$work/py" \
  --grpc_python_out="$work/py" proto/replication.proto
PYTHONPATH="$work/py" "$PYTHON" - <<'EOF'
import replication_pb2, replication_pb2_grpc
assert hasattr(replication_pb2_grpc, "ReplicationServicer"), "no servicer generated"
# The bytes weir's encoder wrote (test/broker/replica/replication-wire.test.ts), read by protobuf's own.
with open("test/fixtures/replication/every-kind.hex") as f:
    frame = replication_pb2.Frame.FromString(bytes.fromhex(f.read().strip()))
envelope = frame.envelope
assert frame.WhichOneof("frame") == "envelope" and getattr(envelope, "from") == 1 and envelope.to == 2
kinds = [m.WhichOneof("message") for m in envelope.messages]
assert kinds == ["vote_request", "vote_response", "append_request", "append_response"], kinds
assert envelope.messages[0].vote_request.pre_vote and envelope.messages[0].vote_request.last_offset == -1
append = envelope.messages[2].append_request
assert [e.kind for e in append.entries] == [2, 1, 3] and append.entries[1].data == b"three records"
assert list(append.entries[2].membership.voters) == [1, 2, 3] and append.incarnation == -1
assert append.start_membership.offset == -1 and list(append.start_membership.membership.voters) == [1]
print("codegen: Python reads the golden envelope; services:", ", ".join(replication_pb2.DESCRIPTOR.services_by_name))
EOF

echo "codegen: installing protoc-gen-go ${PROTOC_GEN_GO_VERSION}, protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION}"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
GOBIN="$work/bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
GOBIN="$work/bin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${PROTOC_GEN_GO_GRPC_VERSION}"

echo "codegen: Go code"
mod="$work/go"
mkdir -p "$mod/weirv1" "$mod/cmd/check"
# The scratch module imports the package as weircheck/weirv1, whatever go_package says.
"$PYTHON" -m grpc_tools.protoc -I proto \
  --plugin=protoc-gen-go="$work/bin/protoc-gen-go" --plugin=protoc-gen-go-grpc="$work/bin/protoc-gen-go-grpc" \
  --go_out="$mod/weirv1" --go_opt=paths=source_relative \
  --go-grpc_out="$mod/weirv1" --go-grpc_opt=paths=source_relative \
  proto/weir.proto
cat > "$mod/go.mod" <<EOF
module weircheck

go 1.24

require (
	google.golang.org/grpc ${GRPC_GO_VERSION}
	google.golang.org/protobuf ${PROTOC_GEN_GO_VERSION}
)
EOF
cat > "$mod/cmd/check/main.go" <<'EOF'
package main

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	weirv1 "weircheck/weirv1"
)

func main() {
	var _ weirv1.WeirClient = weirv1.NewWeirClient((*grpc.ClientConn)(nil))
	var _ weirv1.WeirServer = weirv1.UnimplementedWeirServer{}
	id := int64(1)
	data := &weirv1.PartitionData{Topic: "t", ProducerId: &id}
	bytes, err := proto.Marshal(data)
	if err != nil {
		panic(err)
	}
	back := &weirv1.PartitionData{}
	if err := proto.Unmarshal(bytes, back); err != nil || back.GetProducerId() != 1 {
		panic(fmt.Sprint("round trip failed: ", err))
	}
	fmt.Println("codegen: Go code compiles and runs:", weirv1.Weir_ServiceDesc.ServiceName)
}
EOF
(cd "$mod" && go mod tidy && go vet ./... && go build ./... && go run ./cmd/check)
echo "codegen: ok"
