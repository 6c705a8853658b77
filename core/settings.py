"""One typed settings object, read once at the composition root.

This is the only module that reads ``os.environ``. Precedence, highest first:
command-line options (applied by the CLI), environment variables, the settings
file, built-in defaults.

Settings file (TOML), first found of: ``$SEGASSIST_CONFIG``, ``./segassist.toml``,
``~/.config/segassist/config.toml``::

    db_url = "postgresql+psycopg://127.0.0.1:5432/test"
    home = "/var/lib/segassist"
    chroma_url = "http://127.0.0.1:8000"   # a Chroma server; default: embedded
    embedding_model = "e5-multilingual"    # default: minilm (also: fast)
    embed_threads = 1                      # default 0: the cores not otherwise busy
    ui_password = "..."                    # required to serve the UI beyond 127.0.0.1
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from segassist.core.errors import UserInputError

ENV_PREFIX = "SEGASSIST_"
_KNOWN_KEYS = {
    "db_url",
    "home",
    "data_dir",
    "chroma_path",
    "chroma_url",
    "embedding_model",
    "embed_threads",
    "embed_cache",
    "llm_url",
    "llm_model",
    "llm_cache",
    "agent_examples",
    "ui_user",
    "ui_password",
    "vllm_python",
}


def default_cache_root() -> Path:
    """Where segassist caches what it builds or pulls once per machine (models, wheels)."""
    return Path.home() / ".cache" / "segassist"


@dataclass(frozen=True)
class Settings:
    """Where segassist keeps and finds things."""

    home: Path = field(default_factory=lambda: Path.home() / ".local" / "share" / "segassist")
    db_url: str | None = None
    data_dir: Path | None = None
    chroma_path: Path | None = None
    chroma_url: str | None = None
    embedding_model: str = "minilm"
    embed_threads: int = 0  # 0: as many as there are idle cores
    embed_cache: Path = field(default_factory=lambda: default_cache_root() / "embedders")
    llm_url: str = "http://127.0.0.1:8080/v1"
    llm_model: str = "1.5b"
    llm_cache: Path = field(default_factory=lambda: default_cache_root() / "llm")
    vllm_python: str | None = None  # a Python with vLLM, when not this one (e.g. .venv-vllm)
    # Show the agent verified question-to-SQL examples with each question (agent/examples.py).
    # Off by default: the default 1.5B model copies them (see README, The agent).
    agent_examples: bool = False
    ui_user: str = "segassist"
    ui_password: str | None = None  # required when the UI binds a non-loopback address
    # Gradio's own GRADIO_SERVER_NAME, read here so the UI can refuse a public bind it names.
    gradio_server_name: str | None = None
    source_file: Path | None = None

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL in force: the configured one or the embedded SQLite file."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.home / 'segassist.db'}"

    @property
    def models_dir(self) -> Path:
        """Folder of the versioned segmenter artefacts."""
        return self.home / "models"

    @property
    def index_path(self) -> Path:
        """Folder of the embedded Chroma index (unused when chroma_url is set)."""
        return self.chroma_path or self.home / "chroma"

    def with_overrides(self, **values: object) -> Settings:
        """Return a copy with the given non-None values replaced."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def _settings_file(environ: dict[str, str]) -> Path | None:
    named = environ.get(ENV_PREFIX + "CONFIG")
    if named:
        if not Path(named).is_file():
            raise UserInputError(
                f"Settings file {named} (from {ENV_PREFIX}CONFIG) does not exist. "
                "Create it or unset the variable."
            )
        return Path(named)
    for candidate in (
        Path("segassist.toml"),
        Path.home() / ".config" / "segassist" / "config.toml",
    ):
        if candidate.is_file():
            return candidate
    return None


def _read_file(path: Path) -> dict[str, object]:
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserInputError(f"Settings file {path} is not valid TOML: {e}. Fix it.") from e
    unknown = set(values) - _KNOWN_KEYS
    if unknown:
        raise UserInputError(
            f"Settings file {path} has unknown keys {sorted(unknown)}; "
            f"known keys are {sorted(_KNOWN_KEYS)}."
        )
    return values


def _count(value: object, key: str, source: Path | None) -> int:
    """A non-negative whole number, or a UserInputError naming the setting."""
    try:
        number = int(str(value).strip())
    except ValueError:
        number = -1
    if number < 0:
        where = f"{source} or {ENV_PREFIX}{key.upper()}" if source else f"{ENV_PREFIX}{key.upper()}"
        raise UserInputError(
            f"{key} must be a whole number >= 0 (0: automatic), not {value!r} ({where})."
        )
    return number


def _switch(value: object, key: str, source: Path | None) -> bool:
    """true/false, on/off, yes/no, 1/0 (TOML booleans too), or a UserInputError."""
    text = str(value).strip().lower()
    if text in ("true", "on", "yes", "1"):
        return True
    if text in ("false", "off", "no", "0"):
        return False
    where = f"{source} or {ENV_PREFIX}{key.upper()}" if source else f"{ENV_PREFIX}{key.upper()}"
    raise UserInputError(f"{key} must be true or false, not {value!r} ({where}).")


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build the settings from the environment and the settings file."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, object] = {}
    source = _settings_file(environ)
    if source is not None:
        values.update(_read_file(source))
    for key in _KNOWN_KEYS:
        env_value = environ.get(ENV_PREFIX + key.upper())
        if env_value:
            values[key] = env_value
    if environ.get("GRADIO_SERVER_NAME"):
        values["gradio_server_name"] = environ["GRADIO_SERVER_NAME"]
    for key in ("home", "data_dir", "chroma_path", "llm_cache", "embed_cache"):
        if key in values:
            values[key] = Path(str(values[key])).expanduser()
    if "embed_threads" in values:
        values["embed_threads"] = _count(values["embed_threads"], "embed_threads", source)
    if "agent_examples" in values:
        values["agent_examples"] = _switch(values["agent_examples"], "agent_examples", source)
    return Settings(source_file=source, **values)  # type: ignore[arg-type]
