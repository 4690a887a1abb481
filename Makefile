# The two commands of the README: `make run` and `make test`.
PY := .venv/bin/python
PORT ?= 8501

.PHONY: install install-dev run test lint bench bench-smoke

install:
	bash scripts/install.sh

install-dev:
	bash scripts/install.sh --dev

run: install
	$(PY) -m streamlit run serve.py --server.port $(PORT)

lint: install-dev
	$(PY) -m ruff check .

test: install-dev
	$(PY) -m ruff check .
	$(PY) -m pytest -q

bench: install-dev
	$(PY) -m bench.run

bench-smoke: install-dev
	$(PY) -m bench.run --smoke
