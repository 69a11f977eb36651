# Two commands a new user needs (see README):
#   make demo   - the main job: start the local sandbox and run playbooks/site.yml against it
#                 (check mode with --diff, then apply, then again to show changed=0)
#   make test   - every test: unit, sandbox, integration (real ansible-playbook runs), ansible-test sanity
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test unit integration sanity clean bench

venv: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-test.txt
	touch $(STAMP)

demo: venv
	$(BIN)/python -m scripts.demo

test: venv
	bash tests/run_all.sh

unit: venv
	$(BIN)/python -m pytest -q tests/unit

sanity: venv
	bash tests/sanity.sh

bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf build .sandbox .pytest_cache
