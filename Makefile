# polycube on Bun. Every target that needs tools first installs what is missing.
BUN      := node_modules/.bin/bun
OUT      := build/out
PREFIX   ?= /usr/local
DESTDIR  ?=
SYSCONFDIR ?= /etc
DIST     := $(OUT)/dist
SOURCES  := $(shell find src bpf yang -type f 2>/dev/null) package.json

.PHONY: all deps bpf build dist run test install uninstall deb bench clean check

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

# The files installed beside the executable (unit, completion, default configuration), generated
# from the sources; the unit names $(PREFIX)/bin.
dist: deps
	$(BUN) build/dist.ts $(DIST) $(PREFIX)/bin $(SYSCONFDIR)

run: build
	$(OUT)/polycubed $(ARGS)

# The whole suite; test/run.sh prints the closing "N passed, N failed" line.
test: build
	@test/run.sh

# Also the systemd unit ($(PREFIX)/lib/systemd/system), bash and zsh completion and, when there
# is none, $(SYSCONFDIR)/polycube/polycubed.conf; uninstall removes exactly what install put
# there (build/install.sh keeps a manifest). DESTDIR stages the tree elsewhere.
install: build dist
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" OUT="$(OUT)" DIST="$(DIST)" build/install.sh install

uninstall:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" build/install.sh uninstall

# A Debian package in build/out/ (dpkg-deb, no network); lintian checks it when installed.
deb: build
	build/deb.sh

bench: build
	$(BUN) bench/run.ts

clean:
	rm -rf build/out build/gen build/polycube build/polycubed build/polycubectl

# Type-checks the whole tree.
check: deps
	node_modules/.bin/tsc -p tsconfig.json
