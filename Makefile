# Latchkey's two front doors (see README.md):
#   make run   - sets up this machine and runs the product
#   make test  - sets up this machine and runs every check and test (CI runs this)
# Both are idempotent: they install only what is missing.

CARGO ?= cargo
RUN_DIR := $(CURDIR)/.run

.PHONY: run selfcheck test deps lint fmt check-fmt clippy doc check-platforms test-windows unit desktop bench bench-desktop bench-calls bench-token bench-search package fuzz clean-run test-peers soak-salesforce

deps:
	@scripts/install-deps.sh
	@scripts/install-test-peers.sh
	@scripts/install-console-deps.sh
	@scripts/install-ui-deps.sh
	@scripts/install-tauri-driver.sh
	@scripts/install-cross-deps.sh
	@scripts/install-scim-tester.sh

# The product on this machine: a demo OAuth provider, latchkey-server (SQLite) with an admin,
# Demo OAuth enabled, a demo user, and the desktop menu app enrolled as that user
# (scripts/demo.mjs says what it started). The keychain is the desktop session's own
# Secret Service, or a private gnome-keyring on a machine without one.
run: deps
	$(CARGO) build -p latchkey-server -p latchkey-cli -p latchkey-desktop
	scripts/with-keychain.sh -- node scripts/demo.mjs

# The vault's self-check against this machine's real keychain.
selfcheck: deps
	$(CARGO) build -p latchkey-vault --bin latchkey-vault
	@mkdir -p $(RUN_DIR)
	scripts/with-keychain.sh --keyring-dir $(RUN_DIR)/keyring -- \
		target/debug/latchkey-vault --data-dir $(RUN_DIR)/data selfcheck

desktop: deps
	$(CARGO) run -p latchkey-desktop

test: deps check-fmt clippy doc check-platforms unit

check-fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The API docs build without a broken or private link (rustdoc's lints as errors).
doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

# The same clippy for Windows (x86_64-pc-windows-gnu) and macOS (aarch64-apple-darwin),
# desktop app included: checks only, no linking (docs/platforms.md).
check-platforms:
	CARGO=$(CARGO) scripts/check-platforms.sh

# The Windows build of the private-files, keychain, vault, catalog and connect unit tests,
# run under Wine (docs/platforms.md).
test-windows: deps
	CARGO=$(CARGO) scripts/test-windows.sh

unit:
	scripts/with-postgres.sh scripts/with-keychain.sh -- $(CARGO) test --workspace

fmt:
	$(CARGO) fmt --all

# The test peers' own smoke test (oidc-provider + headless Chromium), ~40 s.
test-peers:
	scripts/test-peers.sh

bench: deps
	scripts/bench-vault.sh

# Connector::call's own overhead next to a bare reqwest call, same run (docs/benchmarks.md).
bench-calls: deps
	scripts/bench-calls.sh

# A cached `latchkey token` through the menu app's token agent, next to the vault unlock
# it replaces and a bare socket exchange, same run (docs/benchmarks.md).
bench-token: deps
	scripts/bench-token.sh

# Federated search's fan-out overhead, a cached query and a full cache's memory, next to
# a baseline from the same run (docs/benchmarks.md).
bench-search: deps
	scripts/bench-search.sh

# The desktop app against a minimal Tauri 2 tray app: start time, idle memory,
# binary size (docs/benchmarks.md). Two full LTO builds: minutes on 2 cores.
bench-desktop: deps
	scripts/bench-desktop.sh

# The Linux bundles with the Tauri CLI: a .deb, and an AppImage where its tools
# can be had (docs/packaging.md).
package: deps
	scripts/package-desktop.sh

fuzz:
	scripts/fuzz-envelope.sh

# One fuzz target for a while: make fuzz-token_response SECONDS=600 (see docs/fuzzing.md).
fuzz-%:
	scripts/fuzz.sh $* $(or $(SECONDS),60)

# Ten minutes of a Salesforce-shaped provider (60-second sessions, no expires_in) used
# through `latchkey api` and `latchkey exec`: one refresh per expiry (issue 11's "done when").
soak-salesforce: deps
	scripts/with-keychain.sh -- $(CARGO) test -p latchkey-cli --test cli_tokens_in_use soak -- --ignored --nocapture

clean-run:
	rm -rf $(RUN_DIR)
