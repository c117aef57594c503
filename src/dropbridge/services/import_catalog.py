"""Catalog import: supplier rows that carry catalog data become Products and Variants, with options,
sanitised descriptions, mapped categories and stored images.

- A product is keyed by the row's parent SKU (a row without one is its own product); its variants by the
  supplier's SKU, unless the row's GTIN matches an existing variant: then the row is the same item from
  another source and attaches to that variant (recorded in variant_sources with matched_by="gtin"), which
  is what lets offers from several suppliers compete for one order line.
- The supplier whose feed created a product owns its content; other suppliers only fill blanks.
- Category rules live in the supplier's config (`category_rules`): they are per supplier, ordered (first
  match wins) and few, and travel with the rest of its feed configuration (`feed`, `images`).
- Images are downloaded outside any transaction (never holding the write lock over the network), once
  per URL, deduplicated by content hash; a bad image is a reported problem, never a failed import.
"""

from __future__ import annotations

import html
import pickle
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from hashlib import blake2b
from typing import Any

import nh3
import structlog

from dropbridge.domain.catalog import (
    CatalogRow,
    ProductGroup,
    choose_variant,
    group_rows,
    gtin_forms,
    gtin_key,
    image_plan,
    map_category,
    parse_category_rules,
    variant_title,
)
from dropbridge.domain.errors import ConfigurationError, DuplicateKey, NotFound
from dropbridge.domain.model import CatalogImage, ProductImage

from .image_port import ImagePolicy, ImageRejected, sha256_hex
from .records import audit, schedule

CHUNK_ROWS = 5000  # rows per transaction: bounded memory and lock time on a large catalog
# Two suppliers' imports running at once on PostgreSQL can both find a parent or variant SKU unused and
# both insert it; the later one's chunk then fails on the unique key. Redone, the chunk sees the row the
# other import committed and takes the path it takes for any existing row (namespacing, matching).
CHUNK_ATTEMPTS = 3

log = structlog.get_logger("dropbridge.catalog")

# ---- descriptions ------------------------------------------------------------------------------------

ALLOWED_TAGS = {
    "p", "div", "br", "hr", "b", "strong", "i", "em", "u", "s", "sub", "sup", "small", "span",
    "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "table", "thead", "tbody", "tr", "th", "td", "a",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
_BLOCK_END = re.compile(r"<(?:br\s*/?|hr\s*/?|/(?:p|div|li|h[1-6]|tr|dt|dd|blockquote|ul|ol|table))>", re.I)
_LOOKS_LIKE_HTML = re.compile(r"<[a-zA-Z!/]")


def sanitize_description(text: str | None) -> str:
    """Safe HTML for a store: basic formatting only. Scripts and styles go with their content, event
    handlers and style attributes are dropped, links keep only http(s)/mailto URLs and get
    rel="noopener noreferrer nofollow"; images are dropped (ours are stored and served separately).
    Plain text (no tags) becomes paragraphs, its line breaks kept."""
    if not text or not text.strip():
        return ""
    if not _LOOKS_LIKE_HTML.search(text):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
        return "".join("<p>" + html.escape(p, quote=False).replace("\n", "<br>") + "</p>" for p in paragraphs)
    return nh3.clean(
        text,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        clean_content_tags={"script", "style"},
    ).strip()


def description_text(safe_html: str) -> str:
    """Plain text of sanitised HTML, one line per block, for search and stores without HTML."""
    text = nh3.clean(_BLOCK_END.sub("\n", safe_html), tags=set(), clean_content_tags={"script", "style"})
    lines = (" ".join(html.unescape(line).split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# ---- report ------------------------------------------------------------------------------------------


@dataclass
class ImportProblem:
    line: int  # the feed line (0: not tied to one line)
    field: str  # sku | options | image | ...
    reason: str
    url: str | None = None
    detail: str | None = None


@dataclass
class ImportReport:
    """Counts of one import. Images are counted per reference (a product's row listing a URL): each is
    stored (a new file), deduplicated (content already stored, found by URL or by SHA-256), or rejected.
    `images_fetched` counts completed downloads, whatever they turned out to hold; a URL is downloaded at
    most once per import, and not at all once it served a stored image."""

    rows_read: int = 0  # rows with catalog data
    rows_skipped: int = 0  # rows without catalog data, or refused (see problems)
    products_created: int = 0
    products_updated: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    variants_matched_gtin: int = 0
    images_fetched: int = 0
    images_stored: int = 0
    images_deduplicated: int = 0
    images_rejected: int = 0
    images_queued: int = 0  # image references handed to background jobs (import_catalog_images)
    problems: list[ImportProblem] = field(default_factory=list)
    # Products that existed before and whose content or variants changed (published ones follow: follow_variants).
    changed_product_ids: set[int] = field(default_factory=set)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


# ---- the use case ------------------------------------------------------------------------------------


def import_catalog(ctx, supplier_name: str, rows: Iterable[Any], *, fetch_images: bool = True,
                   chunk_rows: int = CHUNK_ROWS, skip_skus: Collection[str] = (),
                   queue_images: str | None = None) -> ImportReport:
    """Create or update Products and Variants from `rows` (ParsedRow-like: line, sku, gtin, currency,
    catalog) of one supplier. Rows without `catalog` are skipped; they carry stock and cost only. So are
    rows of `skip_skus`: SKUs that now name another item than they were mapped to (services/offer_drift.py),
    whose rows must not rewrite that variant.

    Without `fetch_images`, a row whose catalog content is what it was when last imported (a hash kept on
    its variant source) is skipped with the rest of its product's rows: a re-sync costs one indexed read
    per row. `queue_images` (a job key prefix) hands the pictures of the rows imported to background jobs
    (`import_catalog_images`), scheduled in each chunk's transaction. With `fetch_images` they are fetched
    inline and every row is looked at again, pictures included."""
    with ctx.uow(read_only=True) as uow:
        supplier = uow.suppliers.by_name(supplier_name)
        if supplier is None:
            raise NotFound(f"no supplier named {supplier_name!r}")
        known = uow.catalog_import.has_sources(supplier.id)
    cfg = dict(supplier.config or {})
    try:
        rules = parse_category_rules(cfg.get("category_rules"))
        policy = _image_policy(ctx, cfg) if fetch_images else None
    except ValueError as exc:
        raise ConfigurationError(f"supplier {supplier_name}: {exc}") from exc
    # What a row turns into depends on its content and on these: a change of rules re-imports every row.
    seed = blake2b(repr((supplier.id, supplier.name, cfg.get("category_rules"))).encode()).digest()[:32]

    report = ImportReport()
    run = _Run(ctx, supplier.id, supplier.name, rules, policy, report,
               queue_key=None if fetch_images else queue_images)
    try:
        for raw in _chunks(rows, chunk_rows, report, skip_skus):
            hashes = {r.sku: _content_hash(seed, r) for r in raw}
            if known and not fetch_images:
                with ctx.uow(read_only=True) as uow:
                    stored = uow.catalog_import.source_hashes(supplier.id, list(hashes))
                changed = {_group_key(r) for r in raw if stored.get(r.sku) is None or stored[r.sku] != hashes[r.sku]}
                raw = [r for r in raw if _group_key(r) in changed]
                if not raw:
                    continue
            chunk = [_catalog_row(r) for r in raw]
            groups, issues = group_rows(chunk)
            if issues:  # a product with a problem is looked at again next time, so it is reported again
                key_of = {r.line: _group_key(r) for r in raw}
                flagged = {key_of.get(i.line) for i in issues}
                for r in raw:
                    if _group_key(r) in flagged:
                        hashes[r.sku] = None
            report.problems.extend(ImportProblem(i.line, i.field, i.reason) for i in issues)
            work = run.import_groups(groups, hashes)
            if policy is not None and work:
                run.import_images(work)
    finally:
        run.close()
    with ctx.uow() as uow:
        audit(uow, ctx, "catalog.imported", f"supplier:{supplier.name}",
              {**report.counts(), "problems": len(report.problems)}, supplier_id=supplier.id)
        uow.commit()
    report.problems.sort(key=lambda p: p.line)
    return report


def import_catalog_images(ctx, supplier_name: str, work: list) -> ImportReport:
    """The background half of a feed's catalog import (job `catalog_images`): fetch, process, store and link
    the pictures of the products a chunk imported. `work`: [product id, replace, [[url, variant id, line]]].
    Bad pictures are logged and audited (the feed run closed long before)."""
    with ctx.uow(read_only=True) as uow:
        supplier = uow.suppliers.by_name(supplier_name)
        if supplier is None:
            raise NotFound(f"no supplier named {supplier_name!r}")
        items = [_ImageWork(int(pid), bool(repl), [(u, v, line) for u, v, line in urls]) for pid, repl, urls in work]
        # Another supplier's product that already has pictures is not ours to change.
        items = [w for w in items if w.replace or not uow.catalog_import.image_links(w.product_id)]
    try:
        policy = _image_policy(ctx, dict(supplier.config or {}))
    except ValueError as exc:
        raise ConfigurationError(f"supplier {supplier_name}: {exc}") from exc
    report = ImportReport()
    run = _Run(ctx, supplier.id, supplier.name, [], policy, report)
    try:
        for i in range(0, len(items), 200):  # a transaction per few hundred products
            run.import_images(items[i:i + 200])
    finally:
        run.close()
    for p in report.problems[:20]:
        log.info("catalog image refused", supplier=supplier_name, line=p.line, url=p.url, reason=p.reason)
    with ctx.uow() as uow:
        audit(uow, ctx, "catalog.images", f"supplier:{supplier.name}",
              {**report.counts(), "problems": len(report.problems)}, supplier_id=supplier.id)
        uow.commit()
    return report


def _content_hash(seed: bytes, row: Any) -> int:
    data = pickle.dumps((row.sku, row.gtin, row.currency, row.catalog), protocol=pickle.HIGHEST_PROTOCOL)
    return int.from_bytes(blake2b(data, digest_size=8, key=seed).digest(), "big", signed=True)


def _group_key(row: Any) -> str:
    """The product key group_rows gives the row: its parent SKU, or its own SKU."""
    parent = row.catalog.get("parent_sku")
    parent = str(parent).strip() if parent is not None else ""
    return parent if parent and parent != row.sku else row.sku


def _image_policy(ctx, cfg: dict) -> ImagePolicy:
    settings = ctx.settings
    defaults = {name: getattr(settings, f"image_{name}", None)
                for name in ("max_bytes", "max_pixels", "max_dimension", "format")}
    return ImagePolicy.from_config(cfg.get("images"), **defaults)


def _chunks(rows: Iterable[Any], size: int, report: ImportReport,
            skip_skus: Collection[str] = ()) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        if not row.catalog:
            report.rows_skipped += 1
            continue
        if row.sku in skip_skus:
            report.rows_skipped += 1
            report.problems.append(ImportProblem(row.line, "sku", f"{row.sku} names another item than it was "
                                                 "mapped to: offer quarantined, catalog data not imported"))
            continue
        report.rows_read += 1
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _catalog_row(row: Any) -> CatalogRow:
    c = row.catalog
    text = lambda key: (str(c.get(key)).strip() or None) if c.get(key) is not None else None  # noqa: E731
    return CatalogRow(
        line=row.line, sku=row.sku, parent_sku=text("parent_sku"), gtin=gtin_key(row.gtin),
        title=text("title"), description=c.get("description") or None,
        options={str(k).strip(): str(v).strip() for k, v in (c.get("options") or {}).items() if str(v).strip()},
        images=tuple(u.strip() for u in (c.get("images") or []) if u and u.strip()),
        brand=text("brand"), mpn=text("mpn"), category=text("category"), status=text("status"),
        msrp_minor=c.get("msrp_minor"), map_minor=c.get("map_minor"), currency=row.currency,
        weight=text("weight"), weight_unit=text("weight_unit"),
    )


@dataclass
class _ImageWork:
    product_id: int
    replace: bool  # this supplier owns the product: its links replace its earlier ones
    items: list[tuple[str, int | None, int]]  # (url, variant id or None, feed line)


_VARIANT_FIELDS = ("id", "product_id", "sku", "title", "gtin", "options", "position", "mpn", "msrp_minor",
                   "map_minor", "currency", "weight", "weight_unit", "status")
_PRODUCT_FIELDS = ("sku", "supplier_id", "title", "description_html", "description", "brand", "supplier_category",
                   "category", "option_names")


class _Writes:
    """What one chunk writes, gathered while deciding it. Rows new in the chunk carry negative ids until
    they are inserted (a later row of the chunk may attach to them)."""

    def __init__(self, now, supplier_id: int):
        self.now = now
        self.supplier_id = supplier_id
        self._next = 0
        self.new_products: list[dict] = []
        self.new_variants: list[dict] = []
        self.new_sources: list[dict] = []
        self.changed_products: dict[int, dict] = {}
        self.changed_variants: dict[int, dict] = {}
        self.changed_sources: list[dict] = []
        self.product_ids: dict[int, int] = {}  # temporary id -> inserted id
        self.variant_ids: dict[int, int] = {}

    def temp_id(self) -> int:
        self._next -= 1
        return self._next

    @staticmethod
    def real(any_id: int, ids: dict[int, int]) -> int:
        return ids.get(any_id, any_id) if any_id < 0 else any_id

    def write(self, repo) -> None:
        now = self.now
        ids = repo.insert_rows("products", [{**{k: p[k] for k in _PRODUCT_FIELDS}, "created_at": now,
                                             "updated_at": now} for p in self.new_products], key="sku")
        for p, new_id in zip(self.new_products, ids, strict=True):
            self.product_ids[p["id"]] = p["id"] = new_id
        pid = self.product_ids
        ids = repo.insert_rows("variants", [{**{k: v[k] for k in _VARIANT_FIELDS[1:]},
                                             "product_id": self.real(v["product_id"], pid)}
                                            for v in self.new_variants], key="sku")
        for v, new_id in zip(self.new_variants, ids, strict=True):
            self.variant_ids[v["id"]] = v["id"] = new_id
        repo.update_rows("products", [{**{k: p[k] for k in _PRODUCT_FIELDS[1:]}, "id": p["id"], "updated_at": now}
                                      for i, p in self.changed_products.items() if i > 0])
        repo.update_rows("variants", [{**{k: v[k] for k in _VARIANT_FIELDS},
                                       "product_id": self.real(v["product_id"], pid)}
                                      for i, v in self.changed_variants.items() if i > 0])
        repo.insert_rows("variant_sources", [
            {"supplier_id": self.supplier_id, "supplier_sku": s["supplier_sku"],
             "variant_id": self.real(s["variant_id"], self.variant_ids), "matched_by": s["matched_by"],
             "gtin": s["gtin"], "content_hash": s["content_hash"], "created_at": now, "updated_at": now}
            for s in self.new_sources])
        repo.update_rows("variant_sources", self.changed_sources)


class _Run:
    """State of one import across chunks: caches that make each URL and each content hash cost once."""

    def __init__(self, ctx, supplier_id: int, supplier_name: str, rules, policy: ImagePolicy | None,
                 report: ImportReport, queue_key: str | None = None):
        self.ctx = ctx
        self.queue_key = queue_key
        self.queued = 0  # image jobs scheduled
        self.supplier_id = supplier_id
        self.supplier_name = supplier_name
        self.rules = rules
        self.policy = policy
        self.report = report
        self.relinked: set[int] = set()  # products whose links this run already reset
        self.url_results: dict[str, int | ImageRejected] = {}  # url -> image id, or why not
        self.fetcher = ctx.images.fetcher() if policy is not None else None  # one session for the whole run

    def close(self) -> None:
        if self.fetcher is not None:
            self.fetcher.close()

    # -- products and variants -------------------------------------------------------------------------

    def import_groups(self, groups: list[ProductGroup], hashes: dict[str, int | None]) -> list[_ImageWork]:
        """One chunk in one transaction, redone (its counts with it) when a concurrent import took a key."""
        attempt = 1
        while True:
            before = replace(self.report, problems=list(self.report.problems))
            try:
                return self._import_groups(groups, hashes)
            except DuplicateKey as exc:
                if attempt == CHUNK_ATTEMPTS:
                    raise
                log.info("catalog chunk met a concurrent import; redoing it", supplier=self.supplier_name,
                         attempt=attempt, error=str(exc))
                self.report.__dict__.update(before.__dict__)
                attempt += 1

    def _import_groups(self, groups: list[ProductGroup], hashes: dict[str, int | None]) -> list[_ImageWork]:
        """Decide every row of the chunk in memory against what a few set-based reads found, then write with
        one executemany per table: new products, new variants, changed products, changed variants, sources."""
        now = self.ctx.clock()
        with self.ctx.uow() as uow:
            repo = uow.catalog_import
            skus = [r.sku for g in groups for r in g.variants]
            sources = repo.source_rows(self.supplier_id, skus)
            gtins = {r.gtin for g in groups for r in g.variants if r.gtin}
            by_id: dict[int, dict] = {}
            by_gtin: dict[str, list[dict]] = {}
            for v in repo.variant_rows("gtin", sorted({f for k in gtins for f in gtin_forms(k)})):
                by_id[v["id"]] = v
                by_gtin.setdefault(gtin_key(v["gtin"]) or "", []).append(v)
            by_sku = {}
            for v in repo.variant_rows("sku", skus):
                by_sku[v["sku"]] = by_id.setdefault(v["id"], v)
            linked = sorted({s["variant_id"] for s in sources.values()} - by_id.keys())
            for v in repo.variant_rows("id", linked):
                by_id[v["id"]] = v
            product_keys = [g.key for g in groups] + [self._namespaced(g.key) for g in groups]
            products_by_id: dict[int, dict] = {}
            products: dict[str, dict] = {}
            for p in repo.product_rows("sku", product_keys):
                products[p["sku"]] = products_by_id[p["id"]] = p
            wanted = sorted({v["product_id"] for v in by_id.values() if v["product_id"]} - products_by_id.keys())
            for p in repo.product_rows("id", wanted):
                products_by_id[p["id"]] = p
            w = _Writes(now, self.supplier_id)
            plans = []
            for group in groups:
                plan = self._import_group(group, w, sources, by_gtin, by_sku, by_id, products, products_by_id,
                                          hashes)
                if plan is not None:
                    plans.append(plan)
            w.write(repo)
            touched = {i for i in w.changed_products if i > 0}
            touched |= {v["product_id"] for v in w.new_variants if v["product_id"] and v["product_id"] > 0}
            touched |= {v["product_id"] for i, v in w.changed_variants.items() if i > 0 and v["product_id"]
                        and v["product_id"] > 0}
            self.report.changed_product_ids |= touched
            work: list[_ImageWork] = []
            if self.policy is not None:
                for product, owner, items in plans:
                    product_id = w.real(product["id"], w.product_ids)
                    if not owner and repo.image_links(product_id):
                        continue  # another supplier's product that already has pictures: not ours to change
                    work.append(_ImageWork(product_id, owner, [
                        (url, w.real(variant_id, w.variant_ids) if variant_id else None, line)
                        for url, variant_id, line in items]))
            elif self.queue_key is not None:
                work = [_ImageWork(w.real(product["id"], w.product_ids), owner, [
                    (url, w.real(variant_id, w.variant_ids) if variant_id else None, line)
                    for url, variant_id, line in items]) for product, owner, items in plans]
                if work:
                    self.queued += 1
                    schedule(uow, self.ctx, "catalog_images", f"{self.queue_key}:{self.queued}",
                             {"supplier": self.supplier_name,
                              "work": [[x.product_id, x.replace, [list(i) for i in x.items]] for x in work]})
                    self.report.images_queued += sum(len(x.items) for x in work)
                work = []
            uow.commit()
        return work

    def _namespaced(self, key: str) -> str:
        return f"{self.supplier_name}:{key}"

    def _import_group(self, group, w, sources, by_gtin, by_sku, by_id, products, products_by_id, hashes):
        report = self.report
        choices = {}
        for row in group.variants:
            src = sources.get(row.sku)
            sku_var = by_sku.get(row.sku)
            choice = choose_variant(row.gtin, src["variant_id"] if src else None,
                                    [v["id"] for v in by_gtin.get(row.gtin, [])] if row.gtin else [],
                                    (sku_var["id"], gtin_key(sku_var["gtin"])) if sku_var else None)
            if choice.kind == "conflict":
                report.problems.append(ImportProblem(row.line, "gtin", f"{row.sku}: {choice.reason}; not imported"))
                report.rows_skipped += 1
                continue
            choices[row.sku] = choice
        if not choices and not group.parent_row:
            return None

        product, created = self._product_for(group, choices, by_id, products, products_by_id, w)
        changed = self._apply_product(product, group)
        owner = product["supplier_id"] == self.supplier_id
        if created:
            report.products_created += 1
        elif changed:
            report.products_updated += 1
            w.changed_products[product["id"]] = product

        variant_ids: dict[str, int] = {}
        for position, row in enumerate(group.variants):
            choice = choices.get(row.sku)
            if choice is None:
                continue
            variant = self._apply_variant(row, choice, product, group, position, sources, by_id, w,
                                          hashes.get(row.sku))
            variant_ids[row.sku] = variant["id"]
            if row.gtin and row.gtin not in by_gtin:
                by_gtin[row.gtin] = [variant]  # a later row of this chunk with the same GTIN finds it
            by_sku.setdefault(row.sku, variant)

        if self.policy is None and self.queue_key is None:
            return None
        items = [(url, variant_ids.get(sku) if sku else None, line) for url, sku, line in image_plan(group)]
        return (product, owner, items) if items else None

    def _product_for(self, group, choices, by_id, products, products_by_id, w):
        for choice in choices.values():  # the product a known variant already belongs to
            variant = by_id.get(choice.variant_id) if choice.variant_id else None
            if variant is not None and variant["product_id"]:
                return products_by_id[variant["product_id"]], False
        for key in (group.key, self._namespaced(group.key)):
            product = products.get(key)
            if product is not None and product["supplier_id"] in (None, self.supplier_id):
                return product, False
        # A parent SKU another supplier already uses for its own product is a different item: namespace it.
        key = group.key if group.key not in products else self._namespaced(group.key)
        product = {"id": w.temp_id(), "sku": key, "supplier_id": self.supplier_id, "title": "",
                   "description_html": None, "description": "", "brand": None, "supplier_category": None,
                   "category": None, "option_names": None}
        w.new_products.append(product)
        products[key] = products_by_id[product["id"]] = product
        return product, True

    def _apply_product(self, product: dict, group: ProductGroup) -> bool:
        if product["supplier_id"] is None:
            product["supplier_id"] = self.supplier_id  # adopt a bare product nobody's feed described yet
        owner = product["supplier_id"] == self.supplier_id
        title = group.first("title") or ""
        raw_description = group.first("description")
        safe = sanitize_description(raw_description) if raw_description else None
        supplier_category = group.first("category")
        match = map_category(self.rules, supplier_category, title)
        values = {
            "title": title,
            "description_html": safe,
            "description": description_text(safe) if safe else None,
            "brand": group.first("brand"),
            "supplier_category": supplier_category,
            "category": match.category if match else None,
        }
        changed = False
        for name, value in values.items():
            current = product[name]
            if (owner and value is not None and value != current) or (not owner and not current and value):
                product[name] = value
                changed = True
        names = list(product["option_names"] or [])
        folded = {n.casefold() for n in names}
        names += [n for n in group.option_names if n.casefold() not in folded]
        if names != (product["option_names"] or []):
            product["option_names"] = names
            changed = True
        return changed

    def _apply_variant(self, row, choice, product, group, position, sources, by_id, w, content_hash) -> dict:
        report = self.report
        src = sources.get(row.sku)
        if choice.kind == "new":
            variant = dict.fromkeys(_VARIANT_FIELDS)
            variant.update(id=w.temp_id(), sku=row.sku, title="", product_id=product["id"])
            w.new_variants.append(variant)
            by_id[variant["id"]] = variant
            owner, created = True, True
        else:
            variant = by_id[choice.variant_id]
            owner = choice.kind == "sku" or (src is not None and src["matched_by"] in ("created", "sku"))
            created = False
        values = {
            "product_id": product["id"],
            "title": variant_title(row, group.option_names),
            "gtin": row.gtin,
            "options": dict(row.options) or None,
            "position": position,
            "mpn": row.mpn,
            "msrp_minor": row.msrp_minor,
            "map_minor": row.map_minor,
            "currency": row.currency if (row.msrp_minor is not None or row.map_minor is not None) else None,
            "weight": row.weight,
            "weight_unit": row.weight_unit,
            "status": row.status,
        }
        changed = False
        for name, value in values.items():
            current = variant[name]
            if (owner and value is not None and value != current) or (not owner and current in (None, "")
                                                                       and value is not None):
                variant[name] = value
                changed = True
        if changed and not created:
            w.changed_variants[variant["id"]] = variant
        if src is None:
            matched_by = {"new": "created", "gtin": "gtin", "sku": "sku"}[choice.kind]
            sources[row.sku] = src = {"id": None, "supplier_sku": row.sku, "variant_id": variant["id"],
                                      "matched_by": matched_by, "gtin": row.gtin, "content_hash": content_hash}
            w.new_sources.append(src)
            if choice.kind == "gtin":
                report.variants_matched_gtin += 1
        elif src["id"] is not None and (src["gtin"] != row.gtin or src["content_hash"] != content_hash):
            w.changed_sources.append({"id": src["id"], "gtin": row.gtin, "content_hash": content_hash,
                                      "updated_at": w.now})
            src["gtin"], src["content_hash"] = row.gtin, content_hash
        if created:
            report.variants_created += 1
        elif changed and choice.kind != "gtin":
            report.variants_updated += 1
        return variant

    # -- images ------------------------------------------------------------------------------------------

    def import_images(self, work: list[_ImageWork]) -> None:
        policy, report = self.policy, self.report
        assert policy is not None and self.fetcher is not None
        urls = list(dict.fromkeys(url for w in work for url, _, _ in w.items if url not in self.url_results))
        url_hash = {url: sha256_hex(url.encode()) for url in urls}
        with self.ctx.uow(read_only=True) as uow:
            known = uow.catalog_import.fetched_urls(list(url_hash.values()))
            stored = uow.catalog_import.images_by_source(sorted(set(known.values())), policy.profile)

        # Network and decoding happen here, outside any transaction.
        new_files: dict[str, tuple[str, Any]] = {}  # source sha -> (relative path, ProcessedImage)
        fetched: dict[str, str] = {}  # url -> source sha, to record
        sources_of: dict[str, str] = {}  # url -> source sha
        for url in urls:
            source = known.get(url_hash[url])
            if source is not None and source in stored:
                sources_of[url] = source
                continue
            try:
                data = self.fetcher.fetch(url, policy.max_bytes)
                report.images_fetched += 1
                source = sha256_hex(data)
                if source not in stored and source not in new_files:
                    with self.ctx.uow(read_only=True) as uow:  # the same picture under another URL?
                        stored.update(uow.catalog_import.images_by_source([source], policy.profile))
                if source not in stored and source not in new_files:
                    processed = self.ctx.images.process(data, policy)
                    new_files[source] = (self.ctx.images.store(processed), processed)
            except ImageRejected as exc:
                self.url_results[url] = exc
                continue
            sources_of[url] = fetched[url] = source

        now = self.ctx.clock()
        new_ids: set[int] = set()
        with self.ctx.uow() as uow:
            repo = uow.catalog_import
            for url, source in fetched.items():
                repo.record_url(url, url_hash[url], source, now)
            rows = repo.images_by_source(sorted(set(sources_of.values())), policy.profile)
            for source, (path, p) in new_files.items():
                if source in rows:
                    continue
                image, added = repo.add_image_if_absent(CatalogImage(
                    source_sha256=source, profile=policy.profile, sha256=p.sha256, path=path, format=p.format,
                    width=p.width, height=p.height, size_bytes=len(p.data), created_at=now))
                rows[source] = image
                if added:
                    new_ids.add(image.id)
            for url, source in sources_of.items():
                self.url_results[url] = rows[source].id
            for w in work:
                self._link(uow, w, new_ids)
            uow.commit()

    def _link(self, uow, w: _ImageWork, new_ids: set[int]) -> None:
        report, repo = self.report, uow.catalog_import
        if w.replace and w.product_id not in self.relinked:
            repo.delete_image_links(w.product_id, self.supplier_id)
            self.relinked.add(w.product_id)
        existing = repo.image_links(w.product_id)
        linked = {link.image_id for link in existing}
        position = max((link.position for link in existing), default=-1) + 1
        for url, variant_id, line in w.items:
            result = self.url_results[url]
            if isinstance(result, ImageRejected):
                report.images_rejected += 1
                report.problems.append(ImportProblem(line, "image", result.reason, url=url, detail=result.detail))
                continue
            if result in new_ids:
                new_ids.discard(result)  # the first reference stores it; later ones reuse it
                report.images_stored += 1
            else:
                report.images_deduplicated += 1
            if result in linked:
                continue  # the same picture under another URL: once per product
            linked.add(result)
            uow.add(ProductImage(product_id=w.product_id, image_id=result, variant_id=variant_id,
                                 supplier_id=self.supplier_id, position=position, source_url=url))
            position += 1
