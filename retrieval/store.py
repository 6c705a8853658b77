"""The Chroma collection that holds review and support-message vectors.

Embedded (`PersistentClient` at a folder) by default, a Chroma server when a
URL is given. The embedding model's name and dimension are stored in the
collection's metadata; opening it with another model is refused with a
message that says how to rebuild. A registered embedding function lets a
reopened collection be queried by text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from segassist.core.errors import InfrastructureError, UserInputError
from segassist.retrieval.embedders import Embedder, EmbedOptions, make_embedder

COLLECTION = "segassist_texts"
PAGE = 5_000  # Chroma's get() fails above ~5,000 ids ("too many SQL variables")


class IndexModelMismatchError(UserInputError):
    """The index was built with another embedding model."""


def _chroma():
    try:
        import chromadb
    except ImportError as e:
        raise InfrastructureError(
            f"Review search needs chromadb ({e}). "
            "Install segassist's dependencies: pip install -e ."
        ) from e
    return chromadb


def _register_embedding_function():
    """Define and register the embedding function class once, on first use."""
    chromadb = _chroma()
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import (
        known_embedding_functions,
        register_embedding_function,
    )

    if "segassist" in known_embedding_functions:
        return known_embedding_functions["segassist"]

    class SegassistEmbeddingFunction(EmbeddingFunction[Documents]):
        """Chroma's view of a segassist embedder: model chosen by name, loaded lazily."""

        def __init__(self, model: str = "minilm", options: EmbedOptions | None = None) -> None:
            self.model = model
            self.options = options
            self._embedder: Embedder | None = None

        @property
        def embedder(self) -> Embedder:
            if self._embedder is None:
                self._embedder = make_embedder(self.model, self.options)
            return self._embedder

        def __call__(self, input: Documents) -> Embeddings:
            return list(self.embedder.embed_documents(list(input)))

        def embed_query(self, input: Documents) -> Embeddings:
            return [self.embedder.embed_query(text) for text in input]

        @staticmethod
        def name() -> str:
            return "segassist"

        def default_space(self) -> str:
            return "cosine"

        def get_config(self) -> dict[str, Any]:
            return {"model": self.model}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> SegassistEmbeddingFunction:
            return SegassistEmbeddingFunction(config.get("model", "minilm"))

    del chromadb
    register_embedding_function(SegassistEmbeddingFunction)
    return SegassistEmbeddingFunction


def open_client(path: Path | None = None, url: str | None = None):
    """An embedded Chroma at `path`, or a Chroma server at `url`; telemetry off."""
    chromadb = _chroma()
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=True)
    if url:
        parsed = urlparse(url if "://" in url else f"http://{url}")
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname or "localhost",
                port=parsed.port or 8000,
                ssl=parsed.scheme == "https",
                settings=settings,
            )
            client.heartbeat()
        except Exception as e:  # the client raises several types for "no server there"
            raise InfrastructureError(
                f"Cannot reach the Chroma server at {url}: {e}. Start it with "
                "'chroma run --path DIR --port 8000' or unset chroma_url to use the embedded index."
            ) from e
        return client
    if path is None:
        raise ValueError("open_client needs a path or a url")
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


@dataclass
class ReviewIndex:
    """The text collection plus the embedder it was built with.

    `revision` counts the syncs that changed the collection; it lives in the
    collection's metadata so that another process's in-memory copy of the
    vectors (see retrieval.search) can tell it is stale.
    """

    collection: Any
    embedder: Embedder
    client: Any = None
    cache: Any = field(default=None, repr=False)

    @property
    def model(self) -> str:
        """Name of the embedding model the index holds vectors of."""
        return self.embedder.name

    def count(self) -> int:
        """Number of texts in the index."""
        return self.collection.count()

    def revision(self) -> int:
        """The stored revision (read fresh from the server or the embedded store)."""
        if self.client is None:
            return int((self.collection.metadata or {}).get("segassist_revision", 0))
        fresh = self.client.get_collection(self.collection.name)
        return int((fresh.metadata or {}).get("segassist_revision", 0))

    def bump_revision(self) -> None:
        """Record that the collection's contents changed."""
        metadata = dict(self.collection.metadata or {})
        metadata.pop("hnsw:space", None)
        metadata["segassist_revision"] = self.revision() + 1
        self.collection.modify(metadata=metadata)
        self.cache = None


def collection_name(database_url: str) -> str:
    """The collection holding one database's texts, so two databases never share one."""
    digest = hashlib.sha1(database_url.encode("utf-8")).hexdigest()[:12]
    return f"{COLLECTION}_{digest}"


def _has_collection(client, name: str) -> bool:
    return name in {getattr(c, "name", c) for c in client.list_collections()}


def stored_model(client, name: str = COLLECTION) -> str | None:
    """The embedding model of the existing index, or None when there is none."""
    if not _has_collection(client, name):
        return None
    _register_embedding_function()  # get_collection rebuilds the stored function
    return (client.get_collection(name).metadata or {}).get("segassist_model")


def drop_index(client, name: str = COLLECTION) -> bool:
    """Delete the text collection; True if there was one."""
    if not _has_collection(client, name):
        return False
    client.delete_collection(name)
    return True


def open_index(
    client,
    model: str = "minilm",
    *,
    name: str = COLLECTION,
    rebuild: bool = False,
    options: EmbedOptions | None = None,
) -> ReviewIndex:
    """Open (or create) the text collection `name` for `model`, run with `options`.

    Raises:
        IndexModelMismatchError: the collection holds another model's vectors (another
            model, or another build of a model whose builds differ).
    """
    function_class = _register_embedding_function()
    if rebuild:
        drop_index(client, name)
    stored = stored_model(client, name)
    if stored not in (None, model):
        raise IndexModelMismatchError(
            f"The review index was built with the embedding model {stored!r}, not {model!r}. "
            f"Rebuild it with 'segassist index --rebuild --model {model}' "
            f"or use --model {stored}."
        )
    function = function_class(model, options)
    embedder = function.embedder
    metadata = {"segassist_model": model, "segassist_dimension": embedder.dimension}
    if embedder.fingerprint:
        metadata["segassist_model_sha256"] = embedder.fingerprint
    collection = client.get_or_create_collection(
        name,
        embedding_function=function,
        configuration={"hnsw": {"space": "cosine"}},
        metadata=metadata,
    )
    built_with = (collection.metadata or {}).get("segassist_model_sha256")
    if embedder.fingerprint and built_with and built_with != embedder.fingerprint:
        raise IndexModelMismatchError(
            f"The review index was built with another build of the {model!r} model "
            f"(sha256 {built_with[:12]}…; this machine's is {embedder.fingerprint[:12]}…), "
            "and the two give different vectors. Rebuild it with "
            f"'segassist index --rebuild --model {model}'."
        )
    return ReviewIndex(collection, embedder, client)
