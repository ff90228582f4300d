# polycube on Bun. Every target that needs tools first installs what is missing.
BUN      := node_modules/.bin/bun
OUT      := build/out
PREFIX   ?= /usr/local
SOURCES  := $(shell find src bpf yang -type f 2>/dev/null) package.json

.PHONY: all deps bpf build run test install uninstall bench clean check

all: build

deps:
	@build/deps.sh

bpf: deps
	@build/bpf.sh

# One executable; polycubed and polycubectl are hard links so the daemon's process name is polycubed.
# Bytecode, and code splitting so that a CLI call loads only the CLI's chunk: polycubectl
# starts about as fast as a compiled hello-world (it is called hundreds of times by scripts).
$(OUT)/polycube: $(SOURCES) build/gen/bpf-objects.ts
	$(BUN) build --compile --minify-syntax --bytecode --format=esm --splitting src/polycube.ts src/lib/bpf/ringbuf-worker.ts --outfile $(OUT)/polycube
	ln -f $(OUT)/polycube $(OUT)/polycubed
	ln -f $(OUT)/polycube $(OUT)/polycubectl
	ln -sf out/polycube build/polycube
	ln -sf out/polycubed build/polycubed
	ln -sf out/polycubectl build/polycubectl

build/gen/bpf-objects.ts: bpf

build: deps bpf $(OUT)/polycube

run: build
	$(OUT)/polycubed $(ARGS)

# The whole suite; test/run.sh prints the closing "N passed, N failed" line.
test: build
	@test/run.sh

install: build
	install -d $(PREFIX)/bin
	install -m 0755 $(OUT)/polycube $(PREFIX)/bin/polycube
	ln -f $(PREFIX)/bin/polycube $(PREFIX)/bin/polycubed
	ln -f $(PREFIX)/bin/polycube $(PREFIX)/bin/polycubectl

uninstall:
	rm -f $(PREFIX)/bin/polycube $(PREFIX)/bin/polycubed $(PREFIX)/bin/polycubectl

bench: build
	$(BUN) bench/run.ts

clean:
	rm -rf build/out build/gen build/polycube build/polycubed build/polycubectl

# Type-checks the whole tree.
check: deps
	node_modules/.bin/tsc -p tsconfig.json
