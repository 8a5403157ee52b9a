# vnfm — see README.md.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/vnfm-project/vnfm/internal/cli.Version=$(VERSION)
FUZZTIME ?= 10s

.PHONY: all build run run-scripted samples test test-short fuzz bench vet lab check-scripts clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/vnfm ./cmd/vnfm
	$(GO) build -o bin/openstack-emulator ./cmd/openstack-emulator

# Serve on the embedded default (SQLite and a generated key in ./var,
# http://127.0.0.1:9890) with the OpenStack emulator as the default VIM
# (Keystone at http://127.0.0.1:5000/v3).
run: build
	scripts/run.sh

# The same server with the scripted test driver (vimType TEST.SCRIPTED.V_1)
# registered, to try every LCM operation before real VIM drivers exist.
run-scripted:
	$(GO) run ./test/cmd/vnfm-scripted serve --auth none --data-dir ./var/scripted

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo "gofmt needed"; exit 1)

# Everything: unit, store contract (Postgres and SQLite), end-to-end, the
# Kubernetes-cluster lab, crash and Tacker CLI tests with the race detector,
# then short fuzz runs.
test: vet check-scripts lab
	scripts/ensure-postgres.sh
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) fuzz

# The lab's real components (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok, helm), built from the Go module proxy into
# ~/.cache/vnfm-lab (VNFM_LAB_CACHE) once: about 20 minutes on a fresh
# 2-core machine, nothing afterwards.
lab:
	scripts/lab/build.sh etcd kube-apiserver kube-controller-manager kube-scheduler kwok helm >/dev/null

# The node scripts: shellcheck, and the sample package ships scripts/k8s.
check-scripts:
	scripts/k8s/check.sh
	shellcheck test/k8slab/node/*.sh

# Fast iteration: no race detector, no process/CLI tests, no fuzzing.
test-short:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/process)

# Minimising a new input is bounded too: left at its 60 s default it can
# outlast -fuzztime, and go test then fails with "context deadline exceeded".
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseFilter$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./internal/query/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSelector$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./internal/query/
	$(GO) test -run '^$$' -fuzz '^FuzzRequestDecoding$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./test/e2e/
	$(GO) test -run '^$$' -fuzz '^FuzzPackageDecoding$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./test/e2e/
	$(GO) test -run '^$$' -fuzz '^FuzzVimDecoding$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./test/e2e/
	$(GO) test -run '^$$' -fuzz '^FuzzSubscriptionDecoding$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./test/e2e/
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./internal/csar/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./internal/vnfd/
	$(GO) test -run '^$$' -fuzz '^FuzzTemplate$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./internal/osemu/
	$(GO) test -run '^$$' -fuzz '^FuzzSetBackendServers$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./internal/haproxy/
	$(GO) test -run '^$$' -fuzz '^FuzzAuthorizationHeader$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./internal/auth/

bench:
	scripts/ensure-postgres.sh
	bash scripts/bench.sh
	$(GO) test -run '^$$' -bench '^BenchmarkOpenStackCycle$$' -benchtime 20x ./test/e2e/

# CSARs of the sample packages in test/samples, with fresh manifests.
samples: build
	mkdir -p bin/samples
	for d in test/samples/*/; do n=$$(basename $$d); ./bin/vnfm package build $$d -o bin/samples/$$n.zip; done

clean:
	rm -rf bin
